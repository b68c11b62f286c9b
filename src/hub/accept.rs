//! Taking new connections ([`crate::net::accept`]) under the raw clients'
//! rules: `--allow`, `--max-clients`, and what each refusal logs.

use std::net::SocketAddr;
use std::time::Instant;

use log::{debug, info, warn};
use mio::Registry;
use mio::net::TcpStream;

use super::Hub;
use super::client::Client;
use crate::net::accept::Accepted;
use crate::output::plural;

impl Hub {
    /// Accepts every pending connection on every listener.
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
                    info!("refused {peer}: not in --allow");
                    self.stats.refused += 1;
                }
                Accepted::Full(_stream, peer) => {
                    info!(
                        "refused {peer}: already serving {} (--max-clients)",
                        plural(self.connected, "client", "clients")
                    );
                    self.stats.refused += 1;
                }
                Accepted::OutOfFds { err, first, closed } => {
                    let message = format!(
                        "out of file descriptors ({err}) with {}: refusing new connections \
                         until one closes; raise the limit (ulimit -n, LimitNOFILE=) or lower \
                         --max-clients",
                        plural(self.connected, "client", "clients")
                    );
                    if first {
                        warn!("{message}");
                    } else {
                        debug!("{message}");
                    }
                    if let Some(peer) = closed {
                        info!("closed connection from {peer}: out of file descriptors");
                        self.stats.refused += 1;
                    }
                }
                Accepted::Failed(e) => warn!("accepting a client: {e}"),
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
        let Some(token) = self.slots.admit(registry, &mut stream, peer, "") else {
            return;
        };
        let mut client = Client::new(stream, peer, now);
        self.connected += 1;
        self.stats.accepted += 1;
        info!("client {peer} connected ({} connected)", self.connected);
        let mut result = Ok(());
        if let Some((telegram, number)) = self.replay_for(peer.ip(), now) {
            // An empty queue takes one telegram without dropping anything.
            client.queue(telegram, self.policy.client_buffer, now);
            client.got = number;
            result = client.send(registry, token, now, &mut self.stats);
        }
        self.slots.put(token, client);
        if let Err(e) = result {
            self.drop_client(registry, token, &format!("write error: {e}"));
        }
    }
}
