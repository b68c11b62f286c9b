//! The pure middle of the data path: bytes from the source through the
//! framers, counted and watched, and on to every output.
//!
//! ```text
//! bytes -> Splitter -+-> text ------------------------------> Framer -+-> telegrams,
//!                    +-> encrypted frame -+-> no key: passed through  |   rejects
//!                    |                    +-> key: Decryptor -> Framer+
//!                    +-> frame rejects (structure; with a key: auth, counter)
//! ```
//!
//! The pipeline decides what goes out (`--forward`), skips the replay a
//! re-connected source may send, and keeps the silence watch. It does no
//! I/O of its own and calls nothing back: it says what it saw and what
//! goes out to a [`Sink`], which the loop dispatches to the source and
//! the outputs.

use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

use log::{debug, info, warn};

use crate::cli::Forward;
use crate::encrypted::{self, Decryptor, Frame, KeyNews, Piece, Splitter, key::Keys};
use crate::framer::{Event, Framer, Parity};
use crate::health::{Quiet, Silence, Stats};
use crate::output::{Delivery, Telegram};

mod sink;
#[cfg(test)]
mod tests;

pub use sink::{Seen, Sink};

pub struct Pipeline {
    framing: Framing,
    ledger: Ledger,
}

/// Bytes into telegrams and frames.
struct Framing {
    /// Takes encrypted frames out of the bytes; the rest goes to `framer`.
    /// A pass-through for a text meter (it looks for one byte, 0xDB).
    splitter: Splitter,
    framer: Framer,
    /// With a key: encrypted frames are decrypted into telegrams for every
    /// client. Without one they are passed through whole.
    decrypting: Option<Decrypting>,
}

/// Encrypted frames, decrypted.
struct Decrypting {
    /// Kept across reopens: the frame counter must still increase.
    decryptor: Decryptor,
    /// The plaintext's own framer (it checks the CRC), so that a telegram
    /// from a frame is never glued to a partial text frame.
    framer: Framer,
    /// Where the key came from, for the wrong-key message.
    key_path: PathBuf,
}

/// What the framers gave: counted, watched, and sent on or not.
struct Ledger {
    /// What is sent to outputs.
    forward: Forward,
    stats: Stats,
    silence: Silence,
    /// The last telegram (or encrypted frame) forwarded, to know a replay
    /// when a source sends one.
    last: Option<Rc<[u8]>>,
    /// No valid telegram yet since the source came up: the next one is
    /// announced, and may be a replay.
    fresh: bool,
    /// The source sends its last telegram again when (re)connected: the
    /// first one after is skipped if the clients had it already.
    replays_on_connect: bool,
    /// When the last valid telegram (or frame passed through) arrived,
    /// for the status snapshot.
    last_telegram: Option<Instant>,
    /// What the decryptor last said is wrong with the key, for the
    /// silence warning and the status page.
    key_problem: Option<KeyNews>,
    /// How encrypted frames without a key are handled was logged: once
    /// per run, at the first one.
    told_pass_through: bool,
}

impl Pipeline {
    /// `keys`: decrypt encrypted frames with them; without, pass them
    /// through.
    pub fn new(forward: Forward, parity: Parity, keys: Option<Keys>, now: Instant) -> Pipeline {
        Pipeline {
            framing: Framing {
                splitter: Splitter::new(),
                framer: Framer::new(parity),
                decrypting: keys.map(|keys| Decrypting {
                    decryptor: Decryptor::new(&keys.key, keys.authentication),
                    framer: Framer::new(Parity::None),
                    key_path: keys.key_path,
                }),
            },
            ledger: Ledger {
                forward,
                stats: Stats::new(now),
                silence: Silence::default(),
                last: None,
                fresh: true,
                replays_on_connect: false,
                last_telegram: None,
                key_problem: None,
                told_pass_through: false,
            },
        }
    }

    /// The counters, for the stats line and the status snapshot.
    pub fn stats(&self) -> &Stats {
        &self.ledger.stats
    }

    /// When the last valid telegram (or frame passed through) arrived.
    pub fn last_telegram(&self) -> Option<Instant> {
        self.ledger.last_telegram
    }

    /// The source (re)opened: frame afresh with `parity` and start watching
    /// for silence. `replays_on_connect`: the source may send its last
    /// telegram again now.
    pub fn source_up(&mut self, parity: Parity, replays_on_connect: bool, now: Instant) {
        self.reframe(parity);
        let ledger = &mut self.ledger;
        ledger.silence.restart(now, &ledger.stats);
        ledger.fresh = true;
        ledger.replays_on_connect = replays_on_connect;
    }

    /// The source switched its serial setting: frame on with `parity`.
    pub fn reframe(&mut self, parity: Parity) {
        self.framing.framer = Framer::new(parity);
        self.framing.splitter.reset();
    }

    /// The source closed: the tail of a cut-off telegram or frame will
    /// never come, and silence means nothing until it is back.
    pub fn source_down(&mut self) {
        self.forget_partial();
        self.ledger.silence.stop();
    }

    /// Forgets partial telegrams and frames (the meter may have been
    /// swapped). The decryptor keeps its frame counters: a reconnected
    /// source must not replay frames.
    pub fn forget_partial(&mut self) {
        self.framing.framer.reset();
        self.framing.splitter.reset();
        if let Some(d) = &mut self.framing.decrypting {
            d.framer.reset();
        }
    }

    /// The once-a-second check: a quiet period that just reached the
    /// limit, for the source to warn about in its own words.
    pub fn tick(&mut self, now: Instant) -> Option<Quiet> {
        let ledger = &mut self.ledger;
        ledger.silence.due(now, &ledger.stats, ledger.key_problem)
    }

    /// Passes bytes read at `now` through the framers; what was seen and
    /// what goes out is handed to `sink`, in order.
    pub fn feed(&mut self, bytes: &[u8], now: Instant, sink: &mut impl Sink) {
        let Framing {
            splitter,
            framer,
            decrypting,
        } = &mut self.framing;
        let ledger = &mut self.ledger;
        ledger.stats.bytes_in += bytes.len() as u64;
        if ledger.forward == Forward::Raw {
            let raw: Rc<[u8]> = Rc::from(bytes);
            sink.deliver(Delivery::Raw(&raw));
        }
        // In raw mode the framers still run: their counts drive the stats,
        // detection and the silence warning.
        splitter.push(bytes, |piece| match piece {
            Piece::Text(run) => {
                sink.seen(Seen::Text(run));
                framer.push(run, |event| ledger.event(event, now, sink));
            }
            Piece::Frame(frame) => match decrypting {
                None => ledger.pass_through(&frame, now, sink),
                Some(d) => {
                    sink.seen(Seen::Frame {
                        frame: &frame,
                        passed_through: false,
                    });
                    ledger.stats.frames += 1;
                    match d.decryptor.decrypt(&frame) {
                        Ok(plaintext) => d
                            .framer
                            .push(plaintext, |event| ledger.event(event, now, sink)),
                        Err(reason) => ledger.frame_rejected(reason),
                    }
                    if let Some(news) = d.decryptor.news() {
                        if news.is_problem() {
                            warn!("{} (the key in {})", news.message(), d.key_path.display());
                        } else {
                            info!("{}", news.message());
                        }
                        ledger.key_problem = news.is_problem().then_some(news);
                    }
                }
            },
            Piece::Rejected(reason) => ledger.frame_rejected(reason),
        });
    }
}

impl Ledger {
    /// A framer event, from the text or from a decrypted frame.
    fn event(&mut self, event: Event<'_>, now: Instant, sink: &mut impl Sink) {
        sink.seen(Seen::Framed(&event));
        match event {
            Event::Telegram(telegram) => {
                if std::mem::take(&mut self.fresh) {
                    sink.seen(Seen::FirstTelegram(&telegram));
                    if self.replayed(telegram.bytes) {
                        debug!("skipped a replayed telegram: the clients have it");
                        return;
                    }
                }
                self.stats.telegrams += 1;
                self.stats.cr_restored += u64::from(telegram.cr_restored);
                self.valid_input(now);
                if self.forward != Forward::Raw {
                    let out = Telegram::new(Rc::from(telegram.bytes), now);
                    sink.deliver(Delivery::Telegram(&out));
                    self.last = Some(out.bytes);
                }
            }
            Event::Rejected { reason, frame } => {
                self.stats.reject(reason);
                debug!("rejected a telegram: {}", reason.name());
                if let (Forward::All, Some(frame)) = (self.forward, frame) {
                    sink.deliver(Delivery::Damaged(&Rc::from(frame)));
                }
            }
        }
    }

    /// An encrypted frame without a key: forwarded whole, as a telegram is.
    fn pass_through(&mut self, frame: &Frame<'_>, now: Instant, sink: &mut impl Sink) {
        sink.seen(Seen::Frame {
            frame,
            passed_through: true,
        });
        self.stats.frames += 1;
        if !std::mem::replace(&mut self.told_pass_through, true) {
            info!(
                "encrypted frames arrive, and there is no key (--key-file): passing them through \
                 whole, for clients that decrypt them with the meter's key (Domoticz, Home \
                 Assistant)"
            );
        }
        if std::mem::take(&mut self.fresh) {
            sink.seen(Seen::FirstFrame(frame));
            if self.replayed(frame.bytes) {
                debug!("skipped a replayed encrypted frame: the clients have it");
                return;
            }
        }
        self.valid_input(now);
        if self.forward != Forward::Raw {
            let out = Telegram::encrypted(Rc::from(frame.bytes), now);
            sink.deliver(Delivery::Encrypted(&out));
            self.last = Some(out.bytes);
        }
    }

    /// Something that began as an encrypted frame was not one, or did not
    /// decrypt, or repeated a frame counter.
    fn frame_rejected(&mut self, reason: encrypted::Reject) {
        self.stats.encrypted_reject(reason);
        debug!("rejected an encrypted frame: {}", reason.name());
    }

    /// `bytes` are what the clients got last, sent again by a source that
    /// replays on connect.
    fn replayed(&self, bytes: &[u8]) -> bool {
        self.replays_on_connect && self.last.as_deref() == Some(bytes)
    }

    /// A valid telegram or a frame passed through: the source is fine.
    fn valid_input(&mut self, now: Instant) {
        self.last_telegram = Some(now);
        self.silence.restart(now, &self.stats);
    }
}
