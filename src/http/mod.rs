//! The HTTP output: a status page, a JSON API, server-sent events and
//! Prometheus metrics, served from the same loop as everything else.
//!
//! Nothing an HTTP client does can hold up the meter or the raw clients:
//! every socket is non-blocking, input is read within a budget per turn,
//! and each connection's answers and events wait in its own bounded queue
//! ([`crate::hub::backlog`], the raw clients' queue), with the raw
//! clients' stall rule. See [`conn`] for a connection's life and limits,
//! [`routes`] for what each path answers.

mod accept;
mod conn;
mod history;
mod metrics;
mod request;
mod response;
mod routes;
mod serve;
mod status_json;

use std::rc::Rc;
use std::time::Instant;

use log::{info, warn};
use mio::{Interest, Registry, Token};

use crate::config::{Config, HttpConfig};
use crate::error::StartError;
use crate::health::{OutputStatus, Status};
use crate::hub::listen;
use crate::net::accept::Acceptor;
use crate::net::slots::Slots;
use crate::output::{Context, Delivery, Output, plural};
use conn::Conn;
use routes::{Last, State};

/// Most HTTP connections at once (a browser opens about six per page);
/// more are answered 503 and closed.
pub const MAX_CONNECTIONS: usize = 64;

/// Counters for the stats line.
#[derive(Debug, Default)]
struct HttpStats {
    requests: u64,
    accepted: u64,
    /// Not allowed, over [`MAX_CONNECTIONS`], or out of fds.
    refused: u64,
    /// Closed for sending no request within the timeout.
    timed_out: u64,
    /// Closed for accepting no data for the stall limit.
    stalled: u64,
    /// Events dropped from full event-stream queues.
    events_dropped: u64,
    bytes_out: u64,
}

pub struct Http {
    /// The listeners, `--allow` and [`MAX_CONNECTIONS`].
    acceptor: Acceptor,
    /// The connections, on the tokens after the listeners'.
    slots: Slots<Conn>,
    connected: usize,
    /// Connections that are event streams.
    streams: usize,
    /// Per event stream queue bound: `--client-buffer`, as for raw clients.
    stream_buffer: usize,
    /// Connections whose input was not drained within the read budget.
    unread: Vec<Token>,
    state: State,
    stats: HttpStats,
    /// The source's name, for the HomeWizard identity of a meter without
    /// an equipment id.
    source: String,
    /// The first listener's port, for the mDNS announcement.
    port: u16,
}

impl Http {
    /// Binds the `--http` addresses, with tokens from `first_token`. None
    /// when there are none, or when the demo's default page cannot bind:
    /// the demo must start anyway.
    pub fn bind(
        config: &Config,
        registry: &Registry,
        first_token: usize,
    ) -> Result<Option<Http>, StartError> {
        let Some(HttpConfig { addrs, optional }) = &config.http else {
            return Ok(None);
        };
        let mut listeners = Vec::new();
        let mut port = 0;
        for (i, addr) in addrs.iter().enumerate() {
            // The hint for a port in use names the option.
            let bound = listen::bind(*addr)
                .map_err(|e| low_port_hint(addr.port(), e.replace("--listen", "--http")));
            let bound = bound.and_then(|mut l| {
                let local = l
                    .local_addr()
                    .map_err(|e| format!("status page on {addr}: {e}"))?;
                registry
                    .register(&mut l, Token(first_token + i), Interest::READABLE)
                    .map_err(|e| format!("watching {local}: {e}"))?;
                Ok((l, local))
            });
            match bound {
                Ok((listener, local)) => {
                    info!("status page: http://{local}/");
                    if port == 0 {
                        port = local.port();
                    }
                    listeners.push(listener);
                }
                Err(e) if *optional => {
                    warn!("no status page: {e}; the demo runs without it (give --http ADDR)");
                    return Ok(None);
                }
                Err(e) => return Err(StartError(format!("--http: {e}"))),
            }
        }
        Ok(Some(Http {
            slots: Slots::new(first_token + listeners.len()),
            acceptor: Acceptor::new(
                listeners,
                first_token,
                config.allow.clone(),
                MAX_CONNECTIONS,
            ),
            connected: 0,
            streams: 0,
            stream_buffer: config.client_buffer,
            unread: Vec::new(),
            state: State::new(),
            stats: HttpStats::default(),
            source: crate::homewizard::identity::source_name(&config.source),
            port,
        }))
    }

    /// The port the API is served on (the first `--http` address's).
    pub fn port(&self) -> u16 {
        self.port
    }

    fn live_status(&self) -> OutputStatus {
        OutputStatus {
            name: "http",
            clients: self.connected,
            dropped: self.stats.events_dropped,
            state: format!(
                "{} listening, {}",
                plural(self.acceptor.listeners(), "address", "addresses"),
                plural(self.streams, "event stream", "event streams")
            ),
        }
    }
}

/// Port 80 is where Home Assistant looks for a HomeWizard meter: say
/// plainly what to do when p1mux cannot have it.
fn low_port_hint(port: u16, error: String) -> String {
    if port == 80 && error.contains("in use") {
        let what = error.split(';').next().unwrap_or_default();
        format!(
            "{what}; port 80 is taken, likely by a web server (nginx, lighttpd, apache: \
             `ss -ltnp sport = :80` names it). Home Assistant looks for a HomeWizard meter on \
             port 80 only: free it, or serve another port (--http 8080) and give that port to \
             clients that take one (evcc, python-homewizard-energy)"
        )
    } else if port < 1024 && error.contains("below 1024") {
        format!(
            "{error} (p1mux.service grants it: AmbientCapabilities=CAP_NET_BIND_SERVICE; a \
             container: --cap-add NET_BIND_SERVICE; elsewhere: \
             sysctl net.ipv4.ip_unprivileged_port_start={port})"
        )
    } else {
        error
    }
}

/// One server-sent event.
fn event(name: &str, data: &str) -> Rc<[u8]> {
    format!("event: {name}\ndata: {data}\n\n")
        .into_bytes()
        .into()
}

impl Output for Http {
    fn deliver(&mut self, cx: &Context, delivery: Delivery<'_>) {
        // Damaged and raw bytes are for raw clients; the page shows values.
        let telegram = match delivery {
            Delivery::Telegram(telegram) => telegram,
            Delivery::Encrypted(_) => return self.state.homewizard.encrypted(),
            _ => return,
        };
        let Some(reading) = telegram.reading() else {
            return;
        };
        let data = crate::json::state(&reading);
        self.state.history.add(telegram.at, &reading);
        (self.state.homewizard).telegram(&reading, telegram.at, &self.source);
        self.broadcast(cx.registry, event("telegram", &data), cx.now);
        self.state.last = Some(Last {
            bytes: telegram.bytes.clone(),
            data: data.into_bytes().into(),
            reading,
        });
    }

    fn on_event(&mut self, cx: &Context, event: &mio::event::Event) {
        let token = event.token();
        if let Some(i) = self.acceptor.listener(token) {
            self.accept(cx.registry, i, cx.now);
        } else {
            let readable = event.is_readable() || event.is_read_closed() || event.is_error();
            self.conn_event(cx.registry, token, readable, event.is_writable(), cx.now);
        }
    }

    fn due_at(&self) -> Option<Instant> {
        self.acceptor.due_at()
    }

    fn on_time(&mut self, cx: &Context) {
        self.expire(cx.registry, cx.now);
        if self.acceptor.resume(cx.now) {
            self.accept_all(cx.registry, cx.now);
        }
    }

    fn has_pending(&self) -> bool {
        !self.unread.is_empty() || self.acceptor.has_pending()
    }

    fn on_pending(&mut self, cx: &Context) {
        for token in std::mem::take(&mut self.unread) {
            self.conn_event(cx.registry, token, true, false, cx.now);
        }
        if self.acceptor.take_accept_now() {
            self.accept_all(cx.registry, cx.now);
        }
    }

    fn shutdown(&mut self, cx: &Context) -> String {
        let n = self.connected;
        for conn in self.slots.take_all() {
            conn.close_cleanly(cx.registry);
        }
        self.connected = 0;
        self.streams = 0;
        format!(
            "closing {}",
            plural(n, "HTTP connection", "HTTP connections")
        )
    }

    fn summary(&self) -> String {
        let s = &self.stats;
        format!(
            "HTTP connections {} ({} event streams; accepted {}, refused {}, timed out {}, \
             dropped for stalling {}), HTTP requests {}, HTTP bytes out {}, events dropped {}",
            self.connected,
            self.streams,
            s.accepted,
            s.refused,
            s.timed_out,
            s.stalled,
            s.requests,
            s.bytes_out,
            s.events_dropped,
        )
    }

    fn status(&self) -> OutputStatus {
        self.live_status()
    }

    fn observe(&mut self, cx: &Context, status: &Status) {
        self.state.status = Some(status.clone());
        if self.streams > 0 {
            let json = status_json::render(status, &self.live_status(), cx.now);
            self.broadcast(cx.registry, event("status", &json), cx.now);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn port_80_hints() {
        let in_use = "listening on [::]:80: Address in use (os error 98); another program has \
                      that port (a running p1mux or ser2net?): stop it or pick another --http";
        let said = super::low_port_hint(80, in_use.into());
        assert!(
            said.starts_with(
                "listening on [::]:80: Address in use (os error 98); port 80 is taken"
            )
        );
        assert!(
            !said.contains("ser2net") && said.contains("Home Assistant"),
            "{said}"
        );
        let denied = "listening on [::]:80: Permission denied; ports below 1024 need root or \
                      CAP_NET_BIND_SERVICE";
        assert!(super::low_port_hint(80, denied.into()).contains("--cap-add NET_BIND_SERVICE"));
        assert_eq!(super::low_port_hint(8080, in_use.into()), in_use);
    }
}
