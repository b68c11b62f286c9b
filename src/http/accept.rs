//! Taking new HTTP connections ([`crate::net::accept`], as the raw clients
//! do): `--allow`, [`MAX_CONNECTIONS`], and what each refusal logs.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Instant;

use log::{debug, warn};
use mio::Registry;
use mio::net::TcpStream;

use super::conn::Conn;
use super::response::Response;
use super::{Http, MAX_CONNECTIONS};
use crate::net::accept::Accepted;

impl Http {
    pub(super) fn accept_all(&mut self, registry: &Registry, now: Instant) {
        for i in 0..self.acceptor.listeners() {
            self.accept(registry, i, now);
        }
    }

    /// Accepts every pending connection on listener `i`.
    pub(super) fn accept(&mut self, registry: &Registry, i: usize, now: Instant) {
        while let Some(step) = self.acceptor.next(i, self.connected, now) {
            match step {
                Accepted::Admit(stream, peer) => self.admit(registry, stream, peer, now),
                Accepted::NotAllowed(_stream, peer) => {
                    debug!("http: refused {peer}: not in --allow");
                    self.stats.refused += 1;
                }
                Accepted::Full(mut stream, peer) => {
                    debug!("http: refused {peer}: {MAX_CONNECTIONS} connections already");
                    self.stats.refused += 1;
                    // A fresh socket has room for this small answer; if not, the
                    // peer just sees the close.
                    let busy = Response::text(503, "too many connections");
                    let _ = stream.write_all(&[busy.head(true), busy.body.to_vec()].concat());
                }
                Accepted::OutOfFds { err, first, closed } => {
                    if first {
                        warn!(
                            "status page: out of file descriptors ({err}); refusing HTTP \
                             connections until one closes (raise ulimit -n / LimitNOFILE=)"
                        );
                    }
                    if closed.is_some() {
                        self.stats.refused += 1;
                    }
                }
                Accepted::Failed(e) => warn!("status page: accepting a connection: {e}"),
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
        let Some(token) = self.slots.admit(registry, &mut stream, peer, "http ") else {
            return;
        };
        self.slots.put(token, Conn::new(stream, peer, now));
        self.connected += 1;
        self.stats.accepted += 1;
        debug!("http {peer} connected ({} connected)", self.connected);
    }
}
