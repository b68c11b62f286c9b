//! A meter built into the binary, so that `p1mux serve --demo` shows live
//! telegrams on any machine, no cable needed. It is one believable DSMR 5.0
//! meter with a gas meter on M-Bus channel 1: it stamps the current Dutch
//! time, its power follows a household with solar panels through the day,
//! its totals only grow (also across a restart of p1mux: they follow from
//! the wall clock, not from the process), the gas reading moves every 5
//! minutes, and every telegram carries its CRC. Consumers pointed at it
//! (Domoticz, Home Assistant, dsmr-reader) draw sane graphs.
//!
//! Pure: the caller passes both clocks in and gets the telegram's bytes.
//!
//! [`DemoInput`] makes it a source: each telegram, when due, is read like
//! bytes from a port.

mod clock;
mod meter;
mod model;

use std::io;
use std::time::{Instant, SystemTime};

use log::info;
use mio::{Registry, Token};

pub use meter::{DemoMeter, HEADER, INTERVAL};

use super::{AfterSilence, Change, Input, Read};
use crate::framer::Parity;
use crate::health::{Quiet, SourceStatus};
use crate::pipeline::Seen;

/// The demo meter as a source: each telegram, when due, is read like
/// bytes from a port.
pub struct DemoInput {
    meter: DemoMeter,
    /// The telegram due and how much of it was read.
    pending: Option<(Vec<u8>, usize)>,
    /// The first telegram was logged.
    announced: bool,
}

impl DemoInput {
    pub fn new(now: Instant) -> DemoInput {
        info!("demo mode: no serial port; a built-in DSMR 5.0 meter stands in");
        DemoInput {
            meter: DemoMeter::new(now, SystemTime::now()),
            pending: None,
            announced: false,
        }
    }
}

impl Input for DemoInput {
    fn parity(&self) -> Parity {
        Parity::None
    }

    fn is_up(&self) -> bool {
        true
    }

    fn due_at(&self) -> Option<Instant> {
        Some(self.meter.due_at())
    }

    fn on_time(&mut self, _registry: &Registry, now: Instant) -> Change {
        match self.meter.poll(now, SystemTime::now()) {
            Some(telegram) => {
                self.pending = Some((telegram, 0));
                Change::Readable
            }
            None => Change::Nothing,
        }
    }

    fn on_ready(&mut self, _registry: &Registry, _token: Token, _now: Instant) -> Change {
        Change::Nothing
    }

    fn read(&mut self, buf: &mut [u8]) -> Read {
        let Some((telegram, offset)) = &mut self.pending else {
            return Read::Empty;
        };
        let n = buf.len().min(telegram.len() - *offset);
        buf[..n].copy_from_slice(&telegram[*offset..*offset + n]);
        *offset += n;
        if *offset == telegram.len() {
            self.pending = None;
        }
        Read::Data(n)
    }

    fn lost(&mut self, _registry: &Registry, _err: &io::Error, _now: Instant) {}

    fn reopen(&mut self, _registry: &Registry, _now: Instant) {
        info!("SIGHUP: nothing to reopen in demo mode");
    }

    fn saw(&mut self, seen: &Seen<'_>) -> Option<String> {
        if !matches!(seen, Seen::FirstTelegram(_)) || std::mem::replace(&mut self.announced, true) {
            return None;
        }
        Some(format!(
            "demo meter: a DSMR 5.0 meter {} with a gas meter, sending a telegram every second",
            self.meter.ident()
        ))
    }

    fn silent(&mut self, _registry: &Registry, _now: Instant, _quiet: &Quiet) -> AfterSilence {
        AfterSilence::Reset
    }

    fn status(&self) -> SourceStatus {
        SourceStatus {
            name: "demo".into(),
            kind: "demo",
            up: true,
            meter: Some(format!("the demo meter {}", self.meter.ident())),
            ..SourceStatus::default()
        }
    }
}
