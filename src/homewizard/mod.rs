//! HomeWizard's local API (v1), the lingua franca of meter readers: Home
//! Assistant's `homewizard` integration, evcc, openHAB, Homey, home
//! batteries and chargers read a HomeWizard P1 meter this way. p1mux,
//! with each telegram checked ~0.1 ms after the meter's last byte, serves
//! the same answers from the cable:
//!
//! | path           | answer                                               |
//! |----------------|------------------------------------------------------|
//! | `/api`         | product type `HWE-P1`, serial, versions ([`identity`]) |
//! | `/api/v1/data` | the last telegram in HomeWizard's shape ([`data`]), or 503 when it is stale ([`freshness`]) |
//!
//! (`/api/v1/telegram`, the telegram as text, was p1mux's already.)
//!
//! Pure code: a [`Reading`] in, JSON out; the HTTP output serves it and
//! the mDNS responder announces it ([`crate::mdns`]).

pub mod data;
mod decimal;
pub mod freshness;
pub mod identity;

pub use freshness::{Freshness, Verdict};
pub use identity::Identity;

use std::rc::Rc;
use std::time::Instant;

use crate::telegram::Reading;

/// What the HomeWizard paths serve, kept up to date telegram by telegram.
#[derive(Debug)]
pub struct HomeWizard {
    /// The source's name, for meters without an equipment id.
    source: String,
    /// `/api/v1/data` of the last telegram, made once per telegram.
    data: Option<Rc<[u8]>>,
    identity: Option<Identity>,
    freshness: Freshness,
    /// Encrypted frames came since the last readable telegram.
    encrypted: bool,
}

/// An answer: status, JSON body.
pub type Answer = (u16, Rc<[u8]>);

impl HomeWizard {
    /// For the meter read from `source` (its name: the device path,
    /// `tcp://HOST:PORT`).
    pub fn new(source: &str) -> HomeWizard {
        HomeWizard {
            source: source.to_string(),
            data: None,
            identity: None,
            freshness: Freshness::default(),
            encrypted: false,
        }
    }

    /// Takes in a valid telegram.
    pub fn telegram(&mut self, reading: &Reading, at: Instant) {
        self.encrypted = false;
        self.freshness.telegram(at);
        self.data = Some(data::json(reading).into_bytes().into());
        let identity = Identity::of(reading, &self.source);
        if self.identity.as_ref() != Some(&identity) {
            self.identity = Some(identity);
        }
    }

    /// An encrypted frame passed through: p1mux has no key to read it.
    pub fn encrypted(&mut self) {
        self.encrypted = true;
    }

    /// The meter's identity, once a telegram showed it.
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// `/api`: 503 until the first telegram says which meter this is.
    pub fn device(&self) -> Answer {
        match &self.identity {
            Some(identity) => (200, identity.json().into_bytes().into()),
            None => (503, Verdict::NoTelegram.error_json().into_bytes().into()),
        }
    }

    /// `/api/v1/data` at `now`.
    pub fn data(&self, now: Instant) -> Answer {
        let verdict = match (self.freshness.verdict(now), &self.data) {
            (Verdict::Fresh, Some(data)) => return (200, data.clone()),
            _ if self.encrypted => Verdict::Encrypted,
            (Verdict::Fresh, None) => Verdict::NoTelegram,
            (verdict, _) => verdict,
        };
        (503, verdict.error_json().into_bytes().into())
    }
}

#[cfg(test)]
#[path = "data_tests.rs"]
mod data_tests;
