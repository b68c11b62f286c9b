//! The meter's serial port: opened with the right settings (found by the
//! detector when not given), read without blocking, reopened when it goes
//! away.
//!
//! A USB cable that is pulled, a hub that resets, or udev renaming the
//! device must never cost the clients their connections: the port is closed,
//! the outage logged once, and the same path (perhaps a symlink that now
//! points elsewhere) is tried again with backoff.

pub mod port;

use std::io;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use serialport::TTYPort;

use super::{AfterSilence, Change, Input, Read, read_once};
use crate::detect::{Detector, Diagnosis, Found, Step};
use crate::error::StartError;
use crate::framer::{Event, Parity};
use crate::health::{Quiet, SILENCE_LIMIT, SourceStatus};
use crate::line::Setting;
use crate::outage::Outage;
use crate::pipeline::Seen;
use port::{FdReader, OpenError};

/// The serial side of the gateway: an open port, or the wait for one.
pub struct SerialInput {
    path: PathBuf,
    /// Which setting to read with; with several candidates, detects.
    detector: Detector,
    port: Option<TTYPort>,
    /// When to try opening again while closed, and what to log.
    outage: Outage,
    token: Token,
    /// When detection, having tried every setting, next logs a summary:
    /// per-switch lines after the first round would fill an SD card.
    next_summary: Option<Instant>,
    /// The meter the last confirmed setting showed, for the status page.
    meter: Option<String>,
    /// What is wrong, since the last warning and until a valid telegram.
    diagnosis: Option<String>,
}

/// How often failing detection says so, after the first full round.
const SUMMARY_EVERY: Duration = Duration::from_secs(300);

impl SerialInput {
    /// Starts detecting (or using the one setting given) and tries the port.
    /// Fails when waiting cannot help: no permission, not a serial device.
    pub fn open(
        path: PathBuf,
        settings: Vec<Setting>,
        registry: &Registry,
        token: Token,
        now: Instant,
    ) -> Result<SerialInput, StartError> {
        let detector = Detector::new(settings, now);
        if detector.is_auto() {
            let list: Vec<String> = detector.candidates().iter().map(Setting::label).collect();
            info!(
                "detecting the serial settings, trying in turn: {}",
                list.join(", ")
            );
        }
        let mut input = SerialInput {
            path,
            detector,
            port: None,
            outage: Outage::new(now),
            token,
            next_summary: None,
            meter: None,
            diagnosis: None,
        };
        match open(&input.path, input.setting()) {
            Ok(port) => {
                input.opened(registry, port, now);
            }
            Err(e) if e.fatal_at_startup() => return Err(StartError(e.describe(&input.path))),
            Err(OpenError::Missing) if input.path.is_relative() => {
                // Nobody plugs a cable into the current directory.
                return Err(StartError(format!(
                    "--device {}: {}",
                    input.path.display(),
                    port::missing_hint(&input.path)
                )));
            }
            Err(OpenError::Missing) => {
                info!(
                    "waiting for {} to appear ({})",
                    input.path.display(),
                    port::missing_hint(&input.path)
                );
                input
                    .outage
                    .failed(&OpenError::Missing.describe(&input.path), now);
            }
            Err(e) => input.outage.failed(&e.describe(&input.path), now),
        }
        Ok(input)
    }

    fn setting(&self) -> Setting {
        self.detector.current()
    }

    /// Watches a freshly opened port.
    fn opened(&mut self, registry: &Registry, port: TTYPort, now: Instant) -> bool {
        let fd = port.as_raw_fd();
        if let Err(e) = registry.register(&mut SourceFd(&fd), self.token, Interest::READABLE) {
            self.outage
                .failed(&format!("watching {}: {e}", self.path.display()), now);
            return false;
        }
        info!("opened {} ({})", self.path.display(), self.setting());
        self.port = Some(port);
        self.outage.ended();
        true
    }

    /// Closes the port (if open) and schedules a reopen after `delay`.
    fn close(&mut self, registry: &Registry, now: Instant, delay: Duration) {
        if let Some(port) = self.port.take() {
            let fd = port.as_raw_fd();
            let _ = registry.deregister(&mut SourceFd(&fd));
        }
        self.outage.retry_after(now, delay);
    }

    /// Switches the port to `setting` (at once if open, else at the next open).
    fn apply(&mut self, setting: Setting) {
        if let Some(port) = &mut self.port
            && let Err(e) = port::reconfigure(port, setting)
        {
            warn!("switching {} to {setting}: {e}", self.path.display());
        }
    }
}

/// Opens with the detector's current setting.
fn open(path: &std::path::Path, setting: Setting) -> Result<TTYPort, OpenError> {
    port::open(path, setting)
}

impl Input for SerialInput {
    fn parity(&self) -> Parity {
        self.setting().parity
    }

    fn is_up(&self) -> bool {
        self.port.is_some()
    }

    fn due_at(&self) -> Option<Instant> {
        self.port.is_none().then(|| self.outage.retry_at())
    }

    fn on_time(&mut self, registry: &Registry, now: Instant) -> Change {
        if self.port.is_some() || now < self.outage.retry_at() {
            return Change::Nothing;
        }
        match open(&self.path, self.setting()) {
            Ok(port) => {
                if !self.opened(registry, port, now) {
                    return Change::Nothing;
                }
                self.detector.restart_window(now);
                Change::Up
            }
            Err(e) => {
                self.outage.failed(&e.describe(&self.path), now);
                Change::Nothing
            }
        }
    }

    fn on_ready(&mut self, _registry: &Registry, _token: Token, _now: Instant) -> Change {
        Change::Readable
    }

    fn read(&mut self, buf: &mut [u8]) -> Read {
        match &self.port {
            // VMIN is 1, so a read of 0 bytes means hang-up, not "no data".
            Some(port) => read_once(&mut FdReader(port), buf, "device hung up"),
            None => Read::Empty,
        }
    }

    fn lost(&mut self, registry: &Registry, err: &io::Error, now: Instant) {
        warn!(
            "lost {}: {err}; clients stay connected, reopening when it comes back",
            self.path.display()
        );
        self.close(registry, now, Duration::ZERO);
        self.outage.lost(now);
    }

    fn reopen(&mut self, registry: &Registry, now: Instant) {
        info!("SIGHUP: reopening {}", self.path.display());
        self.close(registry, now, Duration::ZERO);
    }

    fn saw(&mut self, seen: &Seen<'_>) -> Option<String> {
        match *seen {
            Seen::Text(bytes) => self.detector.bytes(bytes),
            Seen::Framed(event) => {
                if matches!(event, Event::Telegram(_)) {
                    self.diagnosis = None;
                }
                self.detector.event(event);
            }
            Seen::Frame {
                frame,
                passed_through,
            } => {
                if passed_through {
                    self.diagnosis = None;
                }
                self.detector.frame(frame);
            }
            Seen::FirstTelegram(_) | Seen::FirstFrame(_) => {}
        }
        None
    }

    fn settle(&mut self, now: Instant) -> Option<Parity> {
        if let Some(found) = self.detector.confirm() {
            let verb = if self.detector.is_auto() {
                "detected"
            } else {
                "receiving"
            };
            info!("{verb}: {}", describe_lock(&found, self.setting()));
            self.meter = Some(found.meter());
            self.next_summary = None;
            self.diagnosis = None;
        }
        let Step::Try { next, why } = self.detector.step(now) else {
            return None;
        };
        let line = format!("not {why}; trying {}", next.label());
        match self.next_summary {
            _ if !self.detector.tried_all() => info!("{line}"),
            None => {
                let diagnosis = self.detector.diagnose().summary();
                info!(
                    "tried every setting, and none gives a valid telegram: {diagnosis}; trying \
                     them again in turn, logging a summary every {} minutes (-v shows every \
                     switch)",
                    SUMMARY_EVERY.as_secs() / 60
                );
                self.diagnosis = Some(diagnosis);
                self.next_summary = Some(now + SUMMARY_EVERY);
            }
            Some(at) => {
                debug!("{line}");
                if now >= at {
                    info!(
                        "still no valid telegram after {} switches of the serial setting: {}",
                        self.detector.switches(),
                        self.detector.diagnose().summary()
                    );
                    self.next_summary = Some(now + SUMMARY_EVERY);
                }
            }
        }
        self.apply(next);
        Some(next.parity)
    }

    fn silent(&mut self, _registry: &Registry, now: Instant, quiet: &Quiet) -> AfterSilence {
        let setting = self.setting();
        let detecting = !self.detector.locked();
        // Frames that arrive but are of no use (the key): the setting is right.
        let frames_trouble = quiet.encrypted_diagnosis();
        let diagnosis = if quiet.bytes == 0 {
            Diagnosis::NoBytes
        } else if let Some(trouble) = frames_trouble.clone() {
            trouble
        } else if !self.detector.confirmed() {
            // Detecting, or a fixed setting that never worked: the bytes
            // of each setting tried were counted.
            self.detector.diagnose()
        } else if quiet.any_rejects() {
            Diagnosis::Damaged { setting }
        } else if self.detector.is_auto() {
            Diagnosis::NoLongerDecodes { setting }
        } else {
            Diagnosis::WrongSetting { setting }
        };
        let at = if detecting {
            format!("{setting} (still detecting)")
        } else {
            setting.to_string()
        };
        let diagnosis = diagnosis.summary();
        warn!(
            "no valid telegram for {}s at {at}: {diagnosis}",
            SILENCE_LIMIT.as_secs()
        );
        self.diagnosis = Some(diagnosis);
        if frames_trouble.is_none() && self.detector.unlock(now) {
            info!("detecting the serial settings again, starting from {setting}");
        }
        AfterSilence::Reset
    }

    fn status(&self) -> SourceStatus {
        self.describe()
    }
}

impl SerialInput {
    fn describe(&self) -> SourceStatus {
        let detection = if !self.detector.is_auto() {
            "fixed"
        } else if self.detector.confirmed() {
            "detected"
        } else {
            "detecting"
        };
        SourceStatus {
            name: self.path.display().to_string(),
            kind: "serial",
            up: self.port.is_some(),
            setting: Some(self.setting().to_string()),
            detection: Some(detection),
            meter: self.meter.clone(),
            diagnosis: self.diagnosis.clone(),
        }
    }
}

/// The lock line: "DSMR 5.0 meter /ISK5\2M550T-1012 at 115200 8N1", or
/// "an encrypted meter (system title ..., frame counter ...) at 115200 8N1".
fn describe_lock(found: &Found, setting: Setting) -> String {
    let mut line = format!("{} at {setting}", found.meter());
    if found.parity_in_bit7 {
        line.push_str("; ");
        line.push_str(setting.parity_note());
    }
    line
}
