//! What an HTTP connection does on the shared server ([`Web`], a
//! [`Handler`]): requests read and answered, event streams fed, idle and
//! lingering connections closed.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use log::{Level, debug, trace};
use mio::net::TcpStream;

use super::conn::{Expiry, Mode, Next, Session};
use super::request::{Method, Request};
use super::response::{Response, event_stream_head};
use super::routes::{self, Answer, State};
use super::{MAX_CONNECTIONS, event, status_json};
use crate::health::OutputStatus;
use crate::net::handler::{Handler, Note};
use crate::net::link::Link;
use crate::output::{Context, plural};

/// The HTTP handler: what the routes read, and the counts the HTTP
/// output's status shows.
pub struct Web {
    pub state: State,
    /// Listening addresses.
    pub listeners: usize,
    /// Connections open.
    pub connected: usize,
    /// Connections that are event streams.
    pub streams: usize,
    /// Per event stream queue bound: `--client-buffer`, as for raw clients.
    pub stream_buffer: usize,
    pub requests: u64,
    /// Closed for sending no request within the timeout.
    pub timed_out: u64,
    /// Events dropped from full event-stream queues.
    pub events_dropped: u64,
}

impl Web {
    /// The HTTP output's own line in the status.
    pub fn status(&self) -> OutputStatus {
        OutputStatus {
            name: "http",
            clients: self.connected,
            dropped: self.events_dropped,
            state: format!(
                "{} listening, {}",
                plural(self.listeners, "address", "addresses"),
                plural(self.streams, "event stream", "event streams")
            ),
        }
    }

    fn respond(&mut self, link: &mut Link, session: &mut Session, req: &Request, now: Instant) {
        self.requests += 1;
        let close = !req.keep_alive || req.has_body;
        match routes::answer(req, &self.state, &self.status(), now) {
            Answer::Response(response) => {
                trace!("http {}: {} {}", link.peer, req.path, response.status);
                session.queue(link, &response, req.method == Method::Head, close, now);
            }
            Answer::Events => {
                debug!("http {}: event stream opened", link.peer);
                session.mode = Mode::Events;
                self.streams += 1;
                let limit = self.stream_buffer;
                let mut pieces = vec![
                    Rc::from(event_stream_head()),
                    Rc::from(&b"retry: 3000\n\n"[..]),
                ];
                if let Some(s) = &self.state.status {
                    let json = status_json::render(s, &self.status(), now);
                    pieces.push(event("status", &json));
                }
                if let Some(last) = &self.state.last {
                    pieces.push(event("telegram", &last.data));
                }
                for piece in pieces {
                    link.queue(piece, limit, now);
                }
            }
        }
    }
}

impl Handler for Web {
    type Session = Session;

    fn open(
        &mut self,
        _link: &mut Link,
        _others: &mut dyn Iterator<Item = (&Link, &Session)>,
        now: Instant,
    ) -> Session {
        self.connected += 1;
        Session::new(now)
    }

    fn ready(
        &mut self,
        link: &mut Link,
        conn: &mut Session,
        readable: bool,
        writable: bool,
        cx: &Context,
    ) -> Result<(), String> {
        let now = cx.now;
        let write_error = |e: std::io::Error| format!("write error: {e}");
        let read_error = |e: std::io::Error| format!("read error: {e}");
        if writable && link.wants_write() {
            conn.send(link, cx.registry, now).map_err(write_error)?;
        }
        // Answers drained: requests held back by a full queue may proceed,
        // and their input raises no new readiness.
        if readable || writable {
            loop {
                let mut full = false;
                while conn.mode == Mode::Requests {
                    match conn.next_request(link, now).map_err(read_error)? {
                        Next::Request(req) => self.respond(link, conn, &req, now),
                        Next::Bad(status) => {
                            let why = match status {
                                431 => "request head too large",
                                _ => "malformed request",
                            };
                            conn.queue(link, &Response::text(status, why), false, true, now);
                        }
                        Next::Full => {
                            full = true;
                            break;
                        }
                        Next::Wait | Next::More => break,
                    }
                }
                if !link.wants_write() {
                    conn.send(link, cx.registry, now).map_err(write_error)?;
                }
                // The socket took the whole queue: read on.
                if !full || link.wants_write() {
                    break;
                }
            }
            if conn.mode == Mode::Events && !conn.discard_input(link).map_err(read_error)? {
                return Err("closed the event stream".into());
            }
        } else if !link.wants_write() {
            conn.send(link, cx.registry, now).map_err(write_error)?;
        }
        // Shut down just now, with the peer's FIN already read.
        if conn.mode == Mode::Lingering && !conn.discard_input(link).map_err(read_error)? {
            return Err("closed after its answer".into());
        }
        Ok(())
    }

    fn on_time(&mut self, link: &mut Link, conn: &mut Session, now: Instant) -> Result<(), String> {
        let Some(expiry) = conn.expired(link, now) else {
            return Ok(());
        };
        if expiry == Expiry::Idle {
            self.timed_out += 1;
        }
        Err(expiry.why())
    }

    fn closing(&mut self, _link: &Link, conn: &Session) {
        self.connected -= 1;
        if conn.mode == Mode::Events {
            self.streams -= 1;
        }
    }

    fn turn_away(&mut self, stream: &mut TcpStream) {
        use std::io::Write;
        // A fresh socket has room for this small answer; if not, the peer
        // just sees the close.
        let busy = Response::text(503, "too many connections");
        let _ = stream.write_all(&[busy.head(true), busy.body.to_vec()].concat());
    }

    fn words(
        &self,
        note: &Note,
        peer: Option<SocketAddr>,
        connected: usize,
    ) -> Option<(Level, String)> {
        let peer = peer.map_or_else(String::new, |p| p.to_string());
        let line = match note {
            Note::Admitted => format!("http {peer} connected ({connected} connected)"),
            Note::Closed { why, missed } => {
                let lost = match missed {
                    0 => String::new(),
                    n => format!("; it missed {n} events to its full queue"),
                };
                format!("http {peer} disconnected: {why}{lost} ({connected} connected)")
            }
            Note::NotAllowed => format!("http: refused {peer}: not in --allow"),
            Note::Full => format!("http: refused {peer}: {MAX_CONNECTIONS} connections already"),
            Note::OutOfFds { err, first: true } => {
                return Some((
                    Level::Warn,
                    format!(
                        "status page: out of file descriptors ({err}); refusing HTTP \
                         connections until one closes (raise ulimit -n / LimitNOFILE=)"
                    ),
                ));
            }
            Note::OutOfFds { first: false, .. } | Note::Shed => return None,
            Note::AcceptFailed(e) => {
                return Some((
                    Level::Warn,
                    format!("status page: accepting a connection: {e}"),
                ));
            }
        };
        Some((Level::Debug, line))
    }
}
