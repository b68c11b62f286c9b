//! Taking new HTTP connections: `--allow`, [`MAX_CONNECTIONS`], and
//! staying up when the process runs out of file descriptors (the raw
//! clients' rules, from [`crate::hub`]).

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Instant;

use log::{debug, warn};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::conn::Conn;
use super::response::Response;
use super::{Http, MAX_CONNECTIONS};
use crate::hub::allow::allowed;
use crate::hub::{ACCEPT_PAUSE, canonical, client, is_fd_exhaustion, open_spare};

impl Http {
    pub(super) fn accept_all(&mut self, registry: &Registry, now: Instant) {
        for i in 0..self.listeners.len() {
            self.accept(registry, i, now);
        }
    }

    /// Accepts every pending connection on listener `i`.
    pub(super) fn accept(&mut self, registry: &Registry, i: usize, now: Instant) {
        if self.accept_paused_until.is_some_and(|until| now < until) {
            return;
        }
        loop {
            match self.listeners[i].accept() {
                Ok((stream, peer)) => self.admit(registry, stream, canonical(peer), now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.short_of_fds = false;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(e) if is_fd_exhaustion(&e) => {
                    if !std::mem::replace(&mut self.short_of_fds, true) {
                        warn!(
                            "status page: out of file descriptors ({e}); refusing HTTP \
                             connections until one closes (raise ulimit -n / LimitNOFILE=)"
                        );
                    }
                    // Give up the spare fd to close one waiting connection,
                    // so its peer sees a close rather than a hang.
                    if self.spare_fd.take().is_some() {
                        if let Ok((stream, _)) = self.listeners[i].accept() {
                            self.stats.refused += 1;
                            drop(stream);
                        }
                        self.spare_fd = open_spare();
                    }
                    self.accept_paused_until = Some(now + ACCEPT_PAUSE);
                    return;
                }
                Err(e) => {
                    warn!("status page: accepting a connection: {e}");
                    return;
                }
            }
        }
    }

    fn admit(
        &mut self,
        registry: &Registry,
        mut stream: TcpStream,
        peer: SocketAddr,
        now: Instant,
    ) {
        if !allowed(&self.allow, peer.ip()) {
            debug!("http: refused {peer}: not in --allow");
            self.stats.refused += 1;
            return;
        }
        if self.connected >= MAX_CONNECTIONS {
            debug!("http: refused {peer}: {MAX_CONNECTIONS} connections already");
            self.stats.refused += 1;
            // A fresh socket has room for this small answer; if not, the
            // peer just sees the close.
            let busy = Response::text(503, "too many connections");
            let _ = stream.write_all(&[busy.head(true), busy.body.to_vec()].concat());
            return;
        }
        if let Err(e) = client::tune_socket(&stream) {
            debug!("http {peer}: setting socket options: {e}");
        }
        let index = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        let token = Token(self.first_conn + index);
        if let Err(e) = registry.register(&mut stream, token, Interest::READABLE) {
            warn!("http {peer}: cannot watch the connection: {e}");
            self.free.push(index);
            return;
        }
        self.slots[index] = Some(Conn::new(stream, peer, now));
        self.connected += 1;
        self.stats.accepted += 1;
        debug!("http {peer} connected ({} connected)", self.connected);
    }
}
