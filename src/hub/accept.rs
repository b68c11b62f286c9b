//! Taking new connections: the `--allow` and `--max-clients` rules, and
//! staying up when the process runs out of file descriptors.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use log::{debug, info, warn};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::allow::allowed;
use super::client::{self, Client};
use super::{ACCEPT_PAUSE, Hub, canonical, is_fd_exhaustion, open_spare};
use crate::output::plural;

impl Hub {
    /// Accepts every pending connection on every listener.
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
                Ok((stream, peer)) => self.admit(registry, stream, peer, now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.short_of_fds = false;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_fd_exhaustion(&e) => {
                    self.shed(i, &e, now);
                    return;
                }
                // The peer gave up before we got to it; others may be waiting.
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(e) => {
                    warn!("accepting a client: {e}");
                    return;
                }
            }
        }
    }

    /// Out of file descriptors: close one waiting connection using the spare
    /// fd, then pause accepting instead of spinning on the error.
    fn shed(&mut self, i: usize, err: &io::Error, now: Instant) {
        let message = format!(
            "out of file descriptors ({err}) with {}: refusing new connections until one \
             closes; raise the limit (ulimit -n, LimitNOFILE=) or lower --max-clients",
            plural(self.connected, "client", "clients")
        );
        if std::mem::replace(&mut self.short_of_fds, true) {
            debug!("{message}");
        } else {
            warn!("{message}");
        }
        if self.spare_fd.take().is_some() {
            if let Ok((stream, peer)) = self.listeners[i].accept() {
                info!(
                    "closed connection from {}: out of file descriptors",
                    canonical(peer)
                );
                self.stats.refused += 1;
                drop(stream);
            }
            self.spare_fd = open_spare();
        }
        self.accept_paused_until = Some(now + ACCEPT_PAUSE);
    }

    fn admit(
        &mut self,
        registry: &Registry,
        mut stream: TcpStream,
        peer: SocketAddr,
        now: Instant,
    ) {
        let peer = canonical(peer);
        if !allowed(&self.policy.allow, peer.ip()) {
            info!("refused {peer}: not in --allow");
            self.stats.refused += 1;
            return;
        }
        if self.connected >= self.policy.max_clients {
            info!(
                "refused {peer}: already serving {} (--max-clients)",
                plural(self.connected, "client", "clients")
            );
            self.stats.refused += 1;
            return;
        }
        if let Err(e) = client::tune_socket(&stream) {
            debug!("{peer}: setting socket options: {e}");
        }
        let index = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        let token = Token(self.first_client + index);
        if let Err(e) = registry.register(&mut stream, token, Interest::READABLE) {
            warn!("{peer}: cannot watch the connection: {e}");
            self.free.push(index);
            return;
        }
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
        self.slots[index] = Some(client);
        if let Err(e) = result {
            self.drop_client(registry, token, &format!("write error: {e}"));
        }
    }
}
