//! An output's connections by poll token. A closed connection's slot is
//! reused, so tokens stay few, and an event still queued for a connection
//! closed earlier in the same batch finds its slot empty.

use std::io;
use std::net::SocketAddr;

use log::{debug, warn};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::keepalive;

pub struct Slots<T> {
    slots: Vec<Option<T>>,
    free: Vec<usize>,
    /// Slot 0's token; the ones below are the output's listeners.
    first: usize,
}

impl<T> Slots<T> {
    pub fn new(first: usize) -> Slots<T> {
        Slots {
            slots: Vec::new(),
            free: Vec::new(),
            first,
        }
    }

    /// Takes a new connection: tunes its socket and registers it for
    /// reading under a free slot's token, which stays held for it until
    /// [`Slots::put`] fills it. None when the connection cannot be watched.
    pub fn admit(
        &mut self,
        registry: &Registry,
        stream: &mut TcpStream,
        peer: SocketAddr,
    ) -> Option<Token> {
        if let Err(e) = tune_socket(stream) {
            debug!("{peer}: setting socket options: {e}");
        }
        let index = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        let token = Token(self.first + index);
        if let Err(e) = registry.register(stream, token, Interest::READABLE) {
            warn!("{peer}: cannot watch the connection: {e}");
            self.free.push(index);
            return None;
        }
        Some(token)
    }

    /// Fills a held slot: a new connection's, or one back from [`Slots::take`].
    pub fn put(&mut self, token: Token, item: T) {
        self.slots[token.0 - self.first] = Some(item);
    }

    /// Takes a connection out for a turn; its slot stays held.
    pub fn take(&mut self, token: Token) -> Option<T> {
        self.slot(token)?.take()
    }

    /// Takes a connection out for good and frees its slot.
    pub fn remove(&mut self, token: Token) -> Option<T> {
        let item = self.take(token)?;
        self.free.push(token.0 - self.first);
        Some(item)
    }

    pub fn get(&self, token: Token) -> Option<&T> {
        let index = token.0.checked_sub(self.first)?;
        self.slots.get(index)?.as_ref()
    }

    pub fn get_mut(&mut self, token: Token) -> Option<&mut T> {
        self.slot(token)?.as_mut()
    }

    /// Every slot's token, filled or not, for loops that may close
    /// connections as they go.
    pub fn tokens(&self) -> impl Iterator<Item = Token> + use<T> {
        (self.first..self.first + self.slots.len()).map(Token)
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().flatten()
    }

    /// Takes every connection out, for shutdown.
    pub fn take_all(&mut self) -> impl Iterator<Item = T> {
        self.slots.iter_mut().filter_map(Option::take)
    }

    fn slot(&mut self, token: Token) -> Option<&mut Option<T>> {
        let index = token.0.checked_sub(self.first)?;
        self.slots.get_mut(index)
    }
}

/// Telegrams and answers must leave at once, and a client that vanished
/// without a FIN must be noticed.
fn tune_socket(stream: &TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    keepalive(stream)
}
