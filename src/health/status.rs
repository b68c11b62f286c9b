//! A snapshot of how the whole gateway is doing, handed to every output
//! once a second and whenever the source changes, for the status page,
//! the JSON API, metrics and MQTT.
//!
//! A snapshot (not live references) so that an output serving a request
//! never needs to borrow the source or another output; a second's delay
//! is nothing on a status page.

use std::time::{Duration, Instant};

use super::stats::Stats;

/// What the source is doing, in the words the log uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceStatus {
    /// The device path, `tcp://HOST:PORT`, or "demo".
    pub name: String,
    /// "serial", "network" or "demo".
    pub kind: &'static str,
    /// Open or connected.
    pub up: bool,
    /// The serial setting in use, e.g. "115200 8N1".
    pub setting: Option<String>,
    /// How the setting came about: "detected", "detecting", "fixed".
    pub detection: Option<&'static str>,
    /// The meter the first valid telegram showed, e.g.
    /// "DSMR 5.0 meter /ISK5\2M550T-1012".
    pub meter: Option<String>,
    /// When no valid telegram comes: what is wrong, in plain words (the
    /// sentence the silence warning and `probe` use).
    pub diagnosis: Option<String>,
}

/// What one output reports about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputStatus {
    /// "raw", "mqtt", "http".
    pub name: &'static str,
    /// Clients (raw TCP, HTTP) or connections (MQTT: 1 when connected).
    pub clients: usize,
    /// Messages this output dropped from full queues.
    pub dropped: u64,
    /// A few words on its state ("connected to broker:1883").
    pub state: String,
}

/// The gateway as a whole, at one moment.
#[derive(Debug, Clone)]
pub struct Status {
    pub now: Instant,
    pub started: Instant,
    pub version: &'static str,
    pub source: SourceStatus,
    /// Counters of the meter side (telegrams, rejects by reason, bytes in).
    pub stats: Stats,
    /// When the last valid telegram arrived.
    pub last_telegram: Option<Instant>,
    pub outputs: Vec<OutputStatus>,
}

impl Status {
    pub fn uptime(&self) -> Duration {
        self.now.duration_since(self.started)
    }

    /// Age of the last valid telegram.
    pub fn last_telegram_age(&self) -> Option<Duration> {
        self.last_telegram
            .map(|at| self.now.saturating_duration_since(at))
    }
}
