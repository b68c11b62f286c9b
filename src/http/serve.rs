//! Driving connections: readiness in, requests answered, event streams fed,
//! timeouts enforced.

use std::rc::Rc;
use std::time::Instant;

use log::{debug, trace};
use mio::{Registry, Token};

use super::conn::{Conn, Expiry, Mode, Next};
use super::request::{Method, Request};
use super::response::{Response, event_stream_head};
use super::routes::{self, Answer};
use super::{Http, event, status_json};

impl Http {
    /// Readiness (or pending input) for one connection.
    pub(super) fn conn_event(
        &mut self,
        registry: &Registry,
        token: Token,
        readable: bool,
        writable: bool,
        now: Instant,
    ) {
        let Some(mut conn) = self.slots.take(token) else {
            return; // closed earlier in this batch of events
        };
        conn.new_turn();
        let outcome = self.drive(&mut conn, registry, token, readable, writable, now);
        if conn.budget_spent() && outcome.is_ok() {
            self.unread.push(token);
        }
        self.slots.put(token, conn);
        if let Err(why) = outcome {
            self.drop_conn(registry, token, &why);
        }
    }

    fn drive(
        &mut self,
        conn: &mut Conn,
        registry: &Registry,
        token: Token,
        readable: bool,
        writable: bool,
        now: Instant,
    ) -> Result<(), String> {
        let write_error = |e: std::io::Error| format!("write error: {e}");
        if writable && conn.wants_write() {
            conn.send(registry, token, now, &mut self.stats.bytes_out)
                .map_err(write_error)?;
        }
        // Answers drained: requests held back by a full queue may proceed,
        // and their input raises no new readiness.
        if readable || writable {
            loop {
                let mut full = false;
                while conn.mode == Mode::Requests {
                    match conn
                        .next_request(now)
                        .map_err(|e| format!("read error: {e}"))?
                    {
                        Next::Request(req) => self.respond(conn, &req, now),
                        Next::Bad(status) => {
                            let why = match status {
                                431 => "request head too large",
                                _ => "malformed request",
                            };
                            conn.queue(&Response::text(status, why), false, true, now);
                        }
                        Next::Full => {
                            full = true;
                            break;
                        }
                        Next::Wait | Next::More => break,
                    }
                }
                if !conn.wants_write() {
                    conn.send(registry, token, now, &mut self.stats.bytes_out)
                        .map_err(write_error)?;
                }
                // The socket took the whole queue: read on.
                if !full || conn.wants_write() {
                    break;
                }
            }
            if conn.mode == Mode::Events
                && !conn
                    .discard_input()
                    .map_err(|e| format!("read error: {e}"))?
            {
                return Err("closed the event stream".into());
            }
        } else if !conn.wants_write() {
            conn.send(registry, token, now, &mut self.stats.bytes_out)
                .map_err(write_error)?;
        }
        // Shut down just now, with the peer's FIN already read.
        if conn.mode == Mode::Lingering
            && !conn
                .discard_input()
                .map_err(|e| format!("read error: {e}"))?
        {
            return Err("closed after its answer".into());
        }
        Ok(())
    }

    fn respond(&mut self, conn: &mut Conn, req: &Request, now: Instant) {
        self.stats.requests += 1;
        let close = !req.keep_alive || req.has_body;
        match routes::answer(req, &self.state, &self.live_status(), now) {
            Answer::Response(response) => {
                trace!("http {}: {} {}", conn.peer, req.path, response.status);
                conn.queue(&response, req.method == Method::Head, close, now);
            }
            Answer::Events => {
                debug!("http {}: event stream opened", conn.peer);
                conn.mode = Mode::Events;
                self.streams += 1;
                let limit = self.stream_buffer;
                conn.queue_event(Rc::from(event_stream_head()), limit, now);
                conn.queue_event(Rc::from(&b"retry: 3000\n\n"[..]), limit, now);
                if let Some(s) = &self.state.status {
                    let json = status_json::render(s, &self.live_status(), now);
                    conn.queue_event(event("status", &json), limit, now);
                }
                if let Some(last) = &self.state.last {
                    let data = String::from_utf8_lossy(&last.data);
                    conn.queue_event(event("telegram", &data), limit, now);
                }
            }
        }
    }

    /// Queues an event for every stream and writes it where there is room.
    pub(super) fn broadcast(&mut self, registry: &Registry, event: Rc<[u8]>, now: Instant) {
        for token in self.slots.tokens() {
            let Some(conn) = self.slots.get_mut(token) else {
                continue;
            };
            if conn.mode != Mode::Events {
                continue;
            }
            self.stats.events_dropped += conn.queue_event(event.clone(), self.stream_buffer, now);
            if conn.wants_write() {
                continue; // waits for room already
            }
            if let Err(e) = conn.send(registry, token, now, &mut self.stats.bytes_out) {
                self.drop_conn(registry, token, &format!("write error: {e}"));
            }
        }
    }

    /// Closes connections that stalled, idled or lingered too long.
    pub(super) fn expire(&mut self, registry: &Registry, now: Instant) {
        for token in self.slots.tokens() {
            let Some(expiry) = self.slots.get(token).and_then(|c| c.expired(now)) else {
                continue;
            };
            match expiry {
                Expiry::Idle => self.stats.timed_out += 1,
                Expiry::Stalled => self.stats.stalled += 1,
                Expiry::Lingered => {}
            }
            self.drop_conn(registry, token, expiry.why());
        }
    }

    pub(super) fn drop_conn(&mut self, registry: &Registry, token: Token, why: &str) {
        let Some(conn) = self.slots.remove(token) else {
            return;
        };
        self.connected -= 1;
        if conn.mode == Mode::Events {
            self.streams -= 1;
        }
        self.acceptor.closed();
        let (peer, dropped) = (conn.peer, conn.backlog.dropped);
        conn.close(registry);
        let lost = match dropped {
            0 => String::new(),
            n => format!("; it missed {n} events to its full queue"),
        };
        debug!(
            "http {peer} disconnected: {why}{lost} ({} connected)",
            self.connected
        );
    }
}
