//! The raw TCP clients: accepting them, and fanning telegrams out to them.
//!
//! Each client has its own bounded queue of whole telegrams, so a slow or
//! dead client only ever loses its own oldest telegrams and never delays
//! anyone else. Every telegram is handed to the kernel with its own `write`
//! calls (never glued to its neighbour), because Domoticz needs '/' at the
//! start of a read and drops whatever follows the '!' line in the same read.

mod accept;
pub(crate) mod backlog;
pub(crate) mod client;
pub mod listen;
mod replay;

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use log::info;
use mio::{Interest, Registry, Token};

use crate::error::StartError;
use crate::health::OutputStatus;
use crate::net::accept::Acceptor;
use crate::net::allow::Cidr;
use crate::net::slots::Slots;
use crate::output::{Context, Delivery, Output, plural};
use client::{Client, Drain, discard_input};
use replay::Last;

/// A client that accepts no byte for this long while data waits is gone.
pub const STALL_LIMIT: Duration = Duration::from_secs(60);
/// A new client gets the last telegram only if it is younger than this.
pub const REPLAY_MAX_AGE: Duration = Duration::from_secs(15);

/// Counters for the stats line.
#[derive(Debug, Default, Clone)]
pub struct HubStats {
    /// Telegrams written whole to a client, summed over clients.
    pub telegrams_out: u64,
    /// Bytes written to clients.
    pub bytes_out: u64,
    /// Telegrams dropped from full client queues.
    pub overflow_drops: u64,
    /// Clients accepted since start.
    pub accepted: u64,
    /// Connections closed at once: not allowed, over --max-clients, or out of fds.
    pub refused: u64,
    /// Clients disconnected for accepting nothing for [`STALL_LIMIT`].
    pub stalled: u64,
}

/// The rules for clients, from the command line.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Most clients served at once.
    pub max_clients: usize,
    /// Per-client queue bound in bytes.
    pub client_buffer: usize,
    /// Send a new client the last telegram if it is fresh.
    pub replay: bool,
    /// Address blocks allowed to connect; empty allows everyone.
    pub allow: Vec<Cidr>,
}

/// The listeners, the connected clients, and what they are owed.
pub struct Hub {
    /// The listeners, `--allow` and `--max-clients`.
    acceptor: Acceptor,
    /// The clients, on the tokens after the listeners'.
    slots: Slots<Client>,
    connected: usize,
    policy: Policy,
    last: Option<Last>,
    /// Valid telegrams delivered so far: the last one's number.
    telegrams: u64,
    /// Clients whose input was not drained within the read budget.
    unread: Vec<Token>,
    pub stats: HubStats,
}

impl Hub {
    /// Binds every address and watches it, with tokens from `first_token`.
    pub fn bind(
        addrs: &[SocketAddr],
        policy: Policy,
        registry: &Registry,
        first_token: usize,
    ) -> Result<Hub, StartError> {
        let mut listeners = Vec::new();
        for (i, addr) in addrs.iter().enumerate() {
            let mut listener = listen::bind(*addr)?;
            let local = listener
                .local_addr()
                .map_err(|e| format!("listening on {addr}: {e}"))?;
            registry
                .register(&mut listener, Token(first_token + i), Interest::READABLE)
                .map_err(|e| format!("watching {local}: {e}"))?;
            info!("listening on {local}");
            listeners.push(listener);
        }
        let (allow, limit) = (policy.allow.clone(), policy.max_clients);
        Ok(Hub {
            slots: Slots::new(first_token + listeners.len()),
            acceptor: Acceptor::new(listeners, first_token, allow, limit),
            connected: 0,
            policy,
            last: None,
            telegrams: 0,
            unread: Vec::new(),
            stats: HubStats::default(),
        })
    }

    pub fn client_count(&self) -> usize {
        self.connected
    }

    /// Queues `telegram` for every client and writes it where the socket
    /// has room; `number` is a valid telegram's, for the replay rule.
    fn broadcast(
        &mut self,
        registry: &Registry,
        telegram: &Rc<[u8]>,
        number: Option<u64>,
        now: Instant,
    ) {
        for token in self.slots.tokens() {
            let Some(mut client) = self.slots.take(token) else {
                continue;
            };
            if let Some(number) = number {
                client.got = number;
            }
            self.stats.overflow_drops +=
                client.queue(telegram.clone(), self.policy.client_buffer, now);
            // A client with a backlog already waits for writability; writing
            // now would only find the socket full again.
            let result = if client.want_write {
                Ok(())
            } else {
                client.send(registry, token, now, &mut self.stats)
            };
            self.slots.put(token, client);
            if let Err(e) = result {
                self.drop_client(registry, token, &format!("write error: {e}"));
            }
        }
    }

    /// Handles readiness for a client socket.
    fn client_event(
        &mut self,
        registry: &Registry,
        token: Token,
        readable: bool,
        writable: bool,
        now: Instant,
    ) {
        let Some(mut client) = self.slots.take(token) else {
            return; // closed earlier in this batch of events
        };
        let mut outcome = Ok(());
        if readable {
            outcome = match discard_input(&mut client.stream) {
                Ok(Drain::Done) => Ok(()),
                Ok(Drain::More) => {
                    self.unread.push(token);
                    Ok(())
                }
                Ok(Drain::Closed) => Err("closed the connection".to_string()),
                Err(e) => Err(format!("read error: {e}")),
            };
        }
        if outcome.is_ok() && writable && client.want_write {
            outcome = client
                .send(registry, token, now, &mut self.stats)
                .map_err(|e| format!("write error: {e}"));
        }
        self.slots.put(token, client);
        if let Err(why) = outcome {
            self.drop_client(registry, token, &why);
        }
    }

    fn drop_client(&mut self, registry: &Registry, token: Token, why: &str) {
        let Some(client) = self.slots.remove(token) else {
            return;
        };
        self.connected -= 1;
        self.acceptor.closed();
        let lost = match client.backlog.dropped {
            0 => String::new(),
            n => format!(
                "; it missed {} to its full queue",
                plural(n as usize, "telegram", "telegrams")
            ),
        };
        self.remember_departure(&client);
        let peer = client.peer;
        // Closed before the log line says so.
        client.close(registry);
        info!(
            "client {peer} disconnected: {why}{lost} ({} connected)",
            self.connected
        );
    }
}

impl Output for Hub {
    fn deliver(&mut self, cx: &Context, delivery: Delivery<'_>) {
        match delivery {
            // An encrypted frame is a telegram to a client holding the key.
            Delivery::Telegram(telegram) | Delivery::Encrypted(telegram) => {
                self.telegrams += 1;
                // Before the fan-out: a client dropped during it leaves
                // its host behind as having this one.
                self.last = Some(Last::new(
                    telegram.bytes.clone(),
                    telegram.at,
                    self.telegrams,
                ));
                self.broadcast(cx.registry, &telegram.bytes, Some(self.telegrams), cx.now);
            }
            Delivery::Damaged(bytes) | Delivery::Raw(bytes) => {
                self.broadcast(cx.registry, bytes, None, cx.now)
            }
        }
    }

    fn on_event(&mut self, cx: &Context, event: &mio::event::Event) {
        let token = event.token();
        if let Some(i) = self.acceptor.listener(token) {
            self.accept(cx.registry, i, cx.now);
        } else {
            let readable = event.is_readable() || event.is_read_closed() || event.is_error();
            self.client_event(cx.registry, token, readable, event.is_writable(), cx.now);
        }
    }

    fn due_at(&self) -> Option<Instant> {
        self.acceptor.due_at()
    }

    fn on_time(&mut self, cx: &Context) {
        for token in self.slots.tokens() {
            if self
                .slots
                .get(token)
                .is_some_and(|c| c.backlog.stalled(cx.now))
            {
                self.stats.stalled += 1;
                let why = format!("accepted no data for {}s", STALL_LIMIT.as_secs());
                self.drop_client(cx.registry, token, &why);
            }
        }
        // Connections that queued during a pause raise no new readiness event.
        if self.acceptor.resume(cx.now) {
            self.accept_all(cx.registry, cx.now);
        }
    }

    fn has_pending(&self) -> bool {
        !self.unread.is_empty() || self.acceptor.has_pending()
    }

    fn on_pending(&mut self, cx: &Context) {
        for token in std::mem::take(&mut self.unread) {
            self.client_event(cx.registry, token, true, false, cx.now);
        }
        if self.acceptor.take_accept_now() {
            self.accept_all(cx.registry, cx.now);
        }
    }

    fn shutdown(&mut self, cx: &Context) -> String {
        let n = self.connected;
        for client in self.slots.take_all() {
            client.close_cleanly(cx.registry);
        }
        self.connected = 0;
        format!("closing {}", plural(n, "client", "clients"))
    }

    fn status(&self) -> OutputStatus {
        OutputStatus {
            name: "raw",
            clients: self.connected,
            dropped: self.stats.overflow_drops,
            state: format!(
                "{} listening",
                plural(self.acceptor.listeners(), "address", "addresses")
            ),
        }
    }

    fn summary(&self) -> String {
        let s = &self.stats;
        format!(
            "clients {} (accepted {}, refused {}, dropped for stalling {}), telegrams written \
             to clients {}, bytes out {}, telegrams dropped from full client queues {}",
            self.connected,
            s.accepted,
            s.refused,
            s.stalled,
            s.telegrams_out,
            s.bytes_out,
            s.overflow_drops,
        )
    }
}
