//! The pure middle of the data path: bytes from the source through the
//! framer, counted and watched, and on to every output.
//!
//! The pipeline decides what goes out (`--forward`), skips the replay a
//! re-connected source may send, and keeps the silence watch. It does no
//! I/O of its own: the source was read by the loop, and outputs queue.

use std::rc::Rc;
use std::time::Instant;

use log::{debug, info};
use mio::Registry;

use crate::cli::Forward;
use crate::framer::{Event, Framer, Parity};
use crate::health::{Silence, Stats};
use crate::output::{Context, Delivery, Output, Telegram};
use crate::source::{AfterSilence, Input};
use crate::telegram::Reading;

pub struct Pipeline {
    framer: Framer,
    /// What is sent to outputs.
    forward: Forward,
    pub stats: Stats,
    silence: Silence,
    /// The last telegram forwarded, to know a replay when a source sends one.
    last: Option<Rc<[u8]>>,
    /// No valid telegram yet since the source came up: the next one is
    /// announced, and may be a replay.
    fresh: bool,
    /// Some output uses the values: parse each telegram (once).
    parse: bool,
    /// When the last valid telegram arrived, for the status snapshot.
    pub last_telegram: Option<Instant>,
}

impl Pipeline {
    /// `parse`: some output wants the telegram values.
    pub fn new(forward: Forward, parity: Parity, parse: bool, now: Instant) -> Pipeline {
        Pipeline {
            framer: Framer::new(parity),
            forward,
            stats: Stats::new(now),
            silence: Silence::default(),
            last: None,
            fresh: true,
            parse,
            last_telegram: None,
        }
    }

    /// The source (re)opened: frame afresh and start watching for silence.
    pub fn source_up(&mut self, parity: Parity, now: Instant) {
        self.framer = Framer::new(parity);
        self.silence.restart(now, &self.stats);
        self.fresh = true;
    }

    /// The source closed: the tail of a cut-off telegram will never come,
    /// and silence means nothing until it is back.
    pub fn source_down(&mut self) {
        self.framer.reset();
        self.silence.stop();
    }

    /// Passes bytes read from `source` through the framer and on to the outputs.
    pub fn feed(
        &mut self,
        bytes: &[u8],
        source: &mut dyn Input,
        outputs: &mut [Box<dyn Output>],
        cx: &Context,
    ) {
        let Pipeline {
            framer,
            forward,
            stats,
            silence,
            last,
            fresh,
            parse,
            last_telegram,
        } = self;
        let forward = *forward;
        source.observe_bytes(bytes);
        stats.bytes_in += bytes.len() as u64;
        if forward == Forward::Raw {
            let raw: Rc<[u8]> = Rc::from(bytes);
            deliver(outputs, cx, Delivery::Raw(&raw));
        }
        // In raw mode the framer still runs: its counts drive the stats,
        // detection and the silence warning.
        framer.push(bytes, |event| {
            source.observe(&event);
            match event {
                Event::Telegram(telegram) => {
                    if std::mem::take(fresh) {
                        if let Some(line) = source.announce(&telegram) {
                            info!("{line}");
                        }
                        if source.replays_on_connect() && last.as_deref() == Some(telegram.bytes) {
                            debug!("skipped a replayed telegram: the clients have it");
                            return;
                        }
                    }
                    stats.telegrams += 1;
                    *last_telegram = Some(cx.now);
                    silence.restart(cx.now, stats);
                    if forward != Forward::Raw {
                        let out = Telegram {
                            bytes: Rc::from(telegram.bytes),
                            at: cx.now,
                            reading: parse.then(|| Rc::new(Reading::parse(telegram.bytes))),
                        };
                        deliver(outputs, cx, Delivery::Telegram(&out));
                        *last = Some(out.bytes);
                    }
                }
                Event::Rejected { reason, frame } => {
                    stats.reject(reason);
                    debug!("rejected a telegram: {}", reason.name());
                    if let (Forward::All, Some(frame)) = (forward, frame) {
                        deliver(outputs, cx, Delivery::Damaged(&Rc::from(frame)));
                    }
                }
            }
        });
    }

    /// After new input or time: lets the source switch its setting, and
    /// frames on with the new parity if it did.
    pub fn settle(&mut self, source: &mut dyn Input, now: Instant) {
        if let Some(parity) = source.settle(now) {
            self.framer = Framer::new(parity);
        }
    }

    /// The once-a-second check: a source that stays quiet too long is told so.
    pub fn tick(&mut self, source: &mut dyn Input, registry: &Registry, now: Instant) {
        if let Some(quiet) = self.silence.due(now, &self.stats) {
            match source.silent(registry, now, &quiet) {
                AfterSilence::Reset => self.framer.reset(),
                AfterSilence::Closed => self.source_down(),
            }
        }
        self.settle(source, now);
    }
}

fn deliver(outputs: &mut [Box<dyn Output>], cx: &Context, delivery: Delivery<'_>) {
    for output in outputs.iter_mut() {
        output.deliver(cx, delivery);
    }
}
