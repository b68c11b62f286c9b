//! A meter built into the binary, so that `p1mux serve --demo` shows live
//! telegrams on any machine, no cable needed.

use std::io;
use std::time::{Duration, Instant};

use log::info;
use mio::{Registry, Token};

use super::{AfterSilence, Change, Input, Read};
use crate::framer::{Parity, Telegram};
use crate::health::{Quiet, SourceStatus};
use crate::telegram::header;

/// How often the demo meter sends, like a DSMR 5 meter.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Real telegrams from real DSMR 4 and 5 meters, sent in turn. All carry
/// a CRC, as one real meter's telegrams would: the framer treats a
/// CRC-less telegram after CRC'd ones as damage.
pub const SAMPLES: [&[u8]; 5] = [
    include_bytes!("../../tests/data/dsmr50_iskra_am550_2mbus.txt"),
    include_bytes!("../../tests/data/dsmr50_sagemcom_cx2000_pfl10.txt"),
    include_bytes!("../../tests/data/dsmr42_kaifa_ma105.txt"),
    include_bytes!("../../tests/data/dsmr42_landisgyr_e350.txt"),
    include_bytes!("../../tests/data/dsmr40_iskra_spec_textmsg.txt"),
];

/// Emits the next sample whenever its time has come.
pub struct DemoMeter {
    next_at: Instant,
    next: usize,
}

impl DemoMeter {
    /// The first telegram is due at once, so a client sees data immediately.
    pub fn new(now: Instant) -> DemoMeter {
        DemoMeter {
            next_at: now,
            next: 0,
        }
    }

    pub fn due_at(&self) -> Instant {
        self.next_at
    }

    /// The telegram due at `now`, if any.
    pub fn poll(&mut self, now: Instant) -> Option<&'static [u8]> {
        if now < self.next_at {
            return None;
        }
        let sample = SAMPLES[self.next % SAMPLES.len()];
        self.next += 1;
        // Keep the 1 s cadence without drifting, but never try to catch up
        // after the process was stopped for a while.
        self.next_at = (self.next_at + INTERVAL).max(now);
        Some(sample)
    }
}

/// The demo meter as a source: each telegram, when due, is read like
/// bytes from a port.
pub struct DemoInput {
    meter: DemoMeter,
    /// The telegram due and how much of it was read.
    pending: Option<(&'static [u8], usize)>,
    /// The first telegram was logged.
    announced: bool,
}

impl DemoInput {
    pub fn new(now: Instant) -> DemoInput {
        info!("demo mode: a built-in meter sends a sample telegram every second");
        DemoInput {
            meter: DemoMeter::new(now),
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
        match self.meter.poll(now) {
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

    fn announce(&mut self, telegram: &Telegram<'_>) -> Option<String> {
        if std::mem::replace(&mut self.announced, true) {
            return None;
        }
        Some(format!(
            "demo meter: sending {} and {} other sample telegrams in turn",
            header(telegram.bytes),
            SAMPLES.len() - 1
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
            meter: Some("the built-in demo meter".into()),
            ..SourceStatus::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framer::{Event, Framer, Parity};

    #[test]
    fn every_sample_is_valid() {
        let mut framer = Framer::new(Parity::None);
        for sample in SAMPLES {
            let mut valid = 0;
            framer.push(sample, |e| {
                if let Event::Telegram(t) = e {
                    assert_eq!(t.bytes, sample);
                    valid += 1;
                }
            });
            assert_eq!(valid, 1);
        }
    }

    #[test]
    fn cadence() {
        let start = Instant::now();
        let mut demo = DemoMeter::new(start);
        assert_eq!(demo.poll(start), Some(SAMPLES[0]));
        assert_eq!(demo.poll(start), None);
        assert_eq!(demo.poll(start + INTERVAL), Some(SAMPLES[1]));
        assert_eq!(demo.due_at(), start + INTERVAL * 2);
    }
}
