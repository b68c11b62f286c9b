//! The HTTP output: a status page, a JSON API, server-sent events and
//! Prometheus metrics, served from the same loop as everything else.
//!
//! Nothing an HTTP client does can hold up the meter or the raw clients:
//! every socket is non-blocking, input is read within a budget per turn,
//! and each connection's answers and events wait in its own bounded queue
//! ([`crate::net::queue`], the raw clients' queue), with the raw
//! clients' stall rule: HTTP is a [`serve::Web`] handler on the shared
//! [`crate::net::server::Server`]. See [`conn`] for a connection's life and limits,
//! [`routes`] for what each path answers.

mod conn;
mod history;
mod metrics;
mod request;
mod response;
mod routes;
mod serve;
mod status_json;

use std::rc::Rc;

use log::{info, warn};

use crate::config::{Config, HttpConfig};
use crate::error::StartError;
use crate::health::{OutputStatus, Status};
use crate::net::server::{Rules, Server};
use crate::output::{Context, Delivery, Output, plural};
use routes::{Last, State};
use serve::Web;

/// Most HTTP connections at once (a browser opens about six per page);
/// more are answered 503 and closed.
pub const MAX_CONNECTIONS: usize = 64;

pub struct Http {
    server: Server<Web>,
}

/// The HTTP output's line in [`crate::outputs::LIST`]: on with `--http`
/// (and in the demo).
pub fn build(
    config: &Config,
    cx: &Context,
    first_token: usize,
) -> Result<Option<Box<dyn Output>>, StartError> {
    Ok(Http::bind(config, cx, first_token)?.map(|http| Box::new(http) as Box<dyn Output>))
}

impl Http {
    /// Binds the `--http` addresses, with tokens from `first_token`. None
    /// when there are none, or when the demo's default page cannot bind:
    /// the demo must start anyway.
    pub fn bind(
        config: &Config,
        cx: &Context,
        first_token: usize,
    ) -> Result<Option<Http>, StartError> {
        let Some(HttpConfig { addrs, optional }) = &config.http else {
            return Ok(None);
        };
        let rules = Rules {
            allow: config.allow.clone(),
            limit: MAX_CONNECTIONS,
        };
        let web = Web {
            state: State::new(&crate::homewizard::identity::source_name(&config.source)),
            listeners: addrs.len(),
            connected: 0,
            streams: 0,
            stream_buffer: config.client_buffer,
            requests: 0,
            timed_out: 0,
            events_dropped: 0,
        };
        match Server::bind(addrs, "--http", rules, web, cx.registry, first_token) {
            Ok((server, bound)) => {
                for local in bound {
                    info!("status page: http://{local}/");
                }
                Ok(Some(Http { server }))
            }
            Err(e) if *optional => {
                warn!("no status page: {e}; the demo runs without it (give --http ADDR)");
                Ok(None)
            }
            Err(e) => Err(StartError::StatusPage(e)),
        }
    }

    /// Queues an event for every event stream.
    fn broadcast(&mut self, cx: &Context, event: Rc<[u8]>) {
        let limit = self.server.handler.stream_buffer;
        let dropped = self
            .server
            .broadcast(cx, &event, limit, |_, conn| conn.mode == conn::Mode::Events);
        self.server.handler.events_dropped += dropped;
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
            Delivery::Encrypted(_) => return self.server.handler.state.homewizard.encrypted(),
            _ => return,
        };
        let (Some(reading), Some(data)) = (telegram.reading(), telegram.state_json()) else {
            return;
        };
        let state = &mut self.server.handler.state;
        state.history.add(telegram.at, &reading);
        state.homewizard.telegram(&reading, telegram.at);
        self.broadcast(cx, event("telegram", &data));
        self.server.handler.state.last = Some(Last {
            bytes: telegram.bytes.clone(),
            data,
            reading,
        });
    }

    fn on_event(&mut self, cx: &Context, event: &mio::event::Event) {
        self.server.on_event(cx, event);
    }

    fn due_at(&self) -> Option<std::time::Instant> {
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
        let web = &mut self.server.handler;
        web.connected = 0;
        web.streams = 0;
        format!(
            "closing {}",
            plural(n, "HTTP connection", "HTTP connections")
        )
    }

    fn summary(&self) -> String {
        let s = &self.server.stats;
        let web = &self.server.handler;
        format!(
            "HTTP connections {} ({} event streams; accepted {}, refused {}, timed out {}, \
             dropped for stalling {}), HTTP requests {}, HTTP bytes out {}, events dropped {}",
            self.server.connected(),
            web.streams,
            s.accepted,
            s.refused,
            web.timed_out,
            s.stalled,
            web.requests,
            s.bytes_out,
            web.events_dropped,
        )
    }

    fn status(&self) -> OutputStatus {
        self.server.handler.status()
    }

    fn observe(&mut self, cx: &Context, status: &Status) {
        let web = &mut self.server.handler;
        web.state.status = Some(status.clone());
        if web.streams > 0 {
            let json = status_json::render(status, &web.status(), cx.now);
            self.broadcast(cx, event("status", &json));
        }
    }
}
