//! The raw TCP clients: each valid telegram, byte for byte, to every one.
//!
//! A [`crate::net::server::Server`] takes the connections and owns their
//! bounded queues, so a slow or dead client only ever loses its own oldest
//! telegrams and never delays anyone else. Every telegram is handed to the
//! kernel with its own `write` calls (never glued to its neighbour),
//! because Domoticz needs '/' at the start of a read and drops whatever
//! follows the '!' line in the same read. [`replay`] decides which new
//! client gets the last telegram at once.

pub mod replay;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use log::Level;

use crate::config::Config;
use crate::error::StartError;
use crate::health::OutputStatus;
use crate::net::handler::{Handler, Note};
use crate::net::link::{Drain, Link};
use crate::net::server::{Rules, Server};
use crate::output::{Context, Delivery, Output, plural};
use replay::{Held, Replay};

pub use replay::{REPLAY_HOLD, REPLAY_MAX_AGE};

/// The raw output: its server, and each client's queue bound.
pub struct Hub {
    server: Server<Raw>,
    /// Per-client queue bound in bytes (`--client-buffer`).
    client_buffer: usize,
}

/// What a raw connection does: takes telegrams, says nothing that matters.
struct Raw {
    replay: Replay,
    /// When the replays held back for new clients are due, oldest first
    /// (the hold is the same for all, so they come in order).
    held: VecDeque<Instant>,
}

impl Client {
    /// Queues the held replay now: its moment came, or newer bytes are
    /// about to be queued behind it (the replay still comes first, as it
    /// always did).
    fn give_held_replay(&mut self, link: &mut Link, now: Instant) {
        if let Some((telegram, number)) = self.replay.take().map(Held::into_parts) {
            // An empty queue takes one telegram without dropping anything.
            link.queue(telegram, usize::MAX, now);
            self.got = number;
        }
    }
}

/// One raw client's own state.
struct Client {
    /// The number of the last valid telegram queued to it (0: none), for
    /// the replay rule: its host had that one.
    got: u64,
    /// The last telegram, held back [`REPLAY_HOLD`] after connecting, or
    /// until newer bytes go out to the client.
    replay: Option<Held>,
}

/// The raw output's line in [`crate::outputs::LIST`]: always on.
pub fn build(
    config: &Config,
    cx: &Context,
    first_token: usize,
) -> Result<Option<Box<dyn Output>>, StartError> {
    Ok(Some(Box::new(Hub::bind(config, cx, first_token)?)))
}

impl Hub {
    /// Binds `--listen`, with tokens from `first_token`.
    pub fn bind(config: &Config, cx: &Context, first_token: usize) -> Result<Hub, StartError> {
        let rules = Rules {
            allow: config.allow.clone(),
            limit: config.max_clients,
        };
        let raw = Raw {
            replay: Replay::new(config.replay),
            held: VecDeque::new(),
        };
        let (server, bound) = Server::bind(
            &config.listen,
            "--listen",
            rules,
            raw,
            cx.registry,
            first_token,
        )
        .map_err(|e| StartError(e.to_string()))?;
        for local in bound {
            log::info!("listening on {local}");
        }
        Ok(Hub {
            server,
            client_buffer: config.client_buffer,
        })
    }
}

impl Handler for Raw {
    type Session = Client;

    fn open(
        &mut self,
        link: &mut Link,
        others: &mut dyn Iterator<Item = (&Link, &Client)>,
        now: Instant,
    ) -> Client {
        let connected = others.map(|(link, client)| (link.peer.ip(), client.got));
        let replay = self.replay.for_new(link.peer.ip(), connected, now);
        if let Some(held) = &replay {
            self.held.push_back(held.due);
        }
        Client { got: 0, replay }
    }

    fn due_at(&self) -> Option<Instant> {
        self.held.front().copied()
    }

    fn on_time(
        &mut self,
        link: &mut Link,
        client: &mut Client,
        now: Instant,
    ) -> Result<(), String> {
        if client.replay.as_ref().is_some_and(|held| now >= held.due) {
            // The server writes it.
            client.give_held_replay(link, now);
        }
        Ok(())
    }

    fn after_time(&mut self, now: Instant) {
        while self.held.front().is_some_and(|&due| now >= due) {
            self.held.pop_front();
        }
    }

    fn ready(
        &mut self,
        link: &mut Link,
        _client: &mut Client,
        readable: bool,
        writable: bool,
        cx: &Context,
    ) -> Result<(), String> {
        if readable {
            match link.discard_input() {
                Ok(Drain::Open) => {}
                Ok(Drain::Closed) => return Err("closed the connection".into()),
                Err(e) => return Err(format!("read error: {e}")),
            }
        }
        if writable && link.wants_write() {
            link.flush(cx.registry, cx.now)
                .map_err(|e| format!("write error: {e}"))?;
        }
        Ok(())
    }

    fn closing(&mut self, link: &Link, client: &Client) {
        self.replay.departed(link.peer.ip(), client.got);
    }

    fn words(
        &self,
        note: &Note,
        peer: Option<SocketAddr>,
        connected: usize,
    ) -> Option<(Level, String)> {
        let peer = peer.map_or_else(String::new, |p| p.to_string());
        let clients = plural(connected, "client", "clients");
        Some(match note {
            Note::Admitted => (
                Level::Info,
                format!("client {peer} connected ({connected} connected)"),
            ),
            Note::Closed { why, missed } => {
                let lost = match missed {
                    0 => String::new(),
                    &n => format!(
                        "; it missed {} to its full queue",
                        plural(n as usize, "telegram", "telegrams")
                    ),
                };
                (
                    Level::Info,
                    format!("client {peer} disconnected: {why}{lost} ({connected} connected)"),
                )
            }
            Note::NotAllowed => (Level::Info, format!("refused {peer}: not in --allow")),
            Note::Full => (
                Level::Info,
                format!("refused {peer}: already serving {clients} (--max-clients)"),
            ),
            Note::OutOfFds { err, first } => (
                if *first { Level::Warn } else { Level::Debug },
                format!(
                    "out of file descriptors ({err}) with {clients}: refusing new connections \
                     until one closes; raise the limit (ulimit -n, LimitNOFILE=) or lower \
                     --max-clients"
                ),
            ),
            Note::Shed => (
                Level::Info,
                format!("closed connection from {peer}: out of file descriptors"),
            ),
            Note::AcceptFailed(e) => (Level::Warn, format!("accepting a client: {e}")),
        })
    }
}

impl Output for Hub {
    fn deliver(&mut self, cx: &Context, delivery: Delivery<'_>) {
        let limit = self.client_buffer;
        match delivery {
            // An encrypted frame is a telegram to a client holding the key.
            Delivery::Telegram(telegram) | Delivery::Encrypted(telegram) => {
                let number = self
                    .server
                    .handler
                    .replay
                    .record(&telegram.bytes, telegram.at);
                self.server
                    .broadcast(cx, &telegram.bytes, limit, |link, client| {
                        client.give_held_replay(link, cx.now);
                        client.got = number;
                        true
                    });
            }
            Delivery::Damaged(bytes) | Delivery::Raw(bytes) => {
                self.server.broadcast(cx, bytes, limit, |link, client| {
                    client.give_held_replay(link, cx.now);
                    true
                });
            }
        }
    }

    fn on_event(&mut self, cx: &Context, event: &mio::event::Event) {
        self.server.on_event(cx, event);
    }

    fn due_at(&self) -> Option<Instant> {
        self.server.due_at()
    }

    fn on_time(&mut self, cx: &Context) {
        self.server.on_time(cx);
    }

    fn has_pending(&self) -> bool {
        self.server.has_pending()
    }

    fn on_pending(&mut self, cx: &Context) {
        self.server.on_pending(cx);
    }

    fn shutdown(&mut self, cx: &Context) -> String {
        let n = self.server.shutdown(cx);
        format!("closing {}", plural(n, "client", "clients"))
    }

    fn status(&self) -> OutputStatus {
        OutputStatus {
            name: "raw",
            clients: self.server.connected(),
            dropped: self.server.stats.dropped,
            state: format!(
                "{} listening",
                plural(self.server.listeners(), "address", "addresses")
            ),
        }
    }

    fn summary(&self) -> String {
        let s = &self.server.stats;
        format!(
            "clients {} (accepted {}, refused {}, dropped for stalling {}), telegrams written \
             to clients {}, bytes out {}, telegrams dropped from full client queues {}",
            self.server.connected(),
            s.accepted,
            s.refused,
            s.stalled,
            s.pieces_out,
            s.bytes_out,
            s.dropped,
        )
    }
}
