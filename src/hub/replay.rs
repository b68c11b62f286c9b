//! Which new client gets the last telegram at once: one that is fresh, and
//! only if the client's host never had it, on any connection. A client
//! that reconnects for every telegram (dsmr-reader's datalogger) must not
//! store the same reading twice.
//!
//! It costs nothing per telegram and client: each client keeps the number
//! of the last telegram it was given, and one that leaves having the
//! latest leaves its host's address behind until the next telegram.

use std::collections::HashSet;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Instant;

use log::debug;

use super::client::Client;
use super::{Hub, REPLAY_MAX_AGE};

/// Hosts remembered as having left with the last telegram: far more than a
/// house has.
const DEPARTED_HOSTS: usize = 4096;

/// The last valid telegram, for new clients.
pub(super) struct Last {
    pub telegram: Rc<[u8]>,
    pub at: Instant,
    /// Its number, as clients record it ([`Client::got`]).
    pub number: u64,
    /// Hosts whose clients had it and have disconnected since.
    departed: HashSet<IpAddr>,
}

impl Last {
    pub fn new(telegram: Rc<[u8]>, at: Instant, number: u64) -> Last {
        Last {
            telegram,
            at,
            number,
            departed: HashSet::new(),
        }
    }
}

impl Hub {
    /// The telegram to replay to a new client from `host`, and its number,
    /// if it is fresh and that host never had it.
    pub(super) fn replay_for(&self, host: IpAddr, now: Instant) -> Option<(Rc<[u8]>, u64)> {
        let last = self.last.as_ref()?;
        if !self.policy.replay || now.duration_since(last.at) >= REPLAY_MAX_AGE {
            return None;
        }
        let connected_with_it = self
            .slots
            .iter()
            .any(|c| c.got == last.number && c.peer.ip() == host);
        if connected_with_it || last.departed.contains(&host) {
            debug!("not replaying the last telegram to {host}: it had it already");
            return None;
        }
        Some((last.telegram.clone(), last.number))
    }

    /// `client` is leaving: if it had the last telegram, its host did.
    pub(super) fn remember_departure(&mut self, client: &Client) {
        if let Some(last) = &mut self.last
            && client.got == last.number
            && last.departed.len() < DEPARTED_HOSTS
        {
            last.departed.insert(client.peer.ip());
        }
    }
}
