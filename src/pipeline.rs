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
//! I/O of its own: the source was read by the loop, and outputs queue.

use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

use log::{debug, info, warn};
use mio::Registry;

use crate::cli::Forward;
use crate::encrypted::{self, Decryptor, Frame, KeyNews, Piece, Splitter, key::Keys};
use crate::framer::{Event, Framer, Parity};
use crate::health::{Silence, Stats};
use crate::output::{Context, Delivery, Output, Telegram};
use crate::source::{AfterSilence, Input};

pub struct Pipeline {
    /// Takes encrypted frames out of the bytes; the rest goes to `framer`.
    /// A pass-through for a text meter (it looks for one byte, 0xDB).
    splitter: Splitter,
    framer: Framer,
    /// With a key: encrypted frames are decrypted into telegrams for every
    /// client. Without one they are passed through whole.
    decrypting: Option<Decrypting>,
    /// What is sent to outputs.
    forward: Forward,
    pub stats: Stats,
    silence: Silence,
    /// The last telegram (or encrypted frame) forwarded, to know a replay
    /// when a source sends one.
    last: Option<Rc<[u8]>>,
    /// No valid telegram yet since the source came up: the next one is
    /// announced, and may be a replay.
    fresh: bool,
    /// When the last valid telegram (or frame passed through) arrived,
    /// for the status snapshot.
    pub last_telegram: Option<Instant>,
    /// What the decryptor last said is wrong with the key, for the
    /// silence warning and the status page.
    key_problem: Option<KeyNews>,
    /// How encrypted frames without a key are handled was logged: once
    /// per run, at the first one.
    told_pass_through: bool,
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

impl Pipeline {
    /// `keys`: decrypt encrypted frames with them; without, pass them
    /// through.
    pub fn new(forward: Forward, parity: Parity, keys: Option<Keys>, now: Instant) -> Pipeline {
        Pipeline {
            splitter: Splitter::new(),
            framer: Framer::new(parity),
            decrypting: keys.map(|keys| Decrypting {
                decryptor: Decryptor::new(&keys.key, keys.authentication),
                framer: Framer::new(Parity::None),
                key_path: keys.key_path,
            }),
            forward,
            stats: Stats::new(now),
            silence: Silence::default(),
            last: None,
            fresh: true,
            last_telegram: None,
            key_problem: None,
            told_pass_through: false,
        }
    }

    /// The source (re)opened: frame afresh and start watching for silence.
    pub fn source_up(&mut self, parity: Parity, now: Instant) {
        self.framer = Framer::new(parity);
        self.splitter.reset();
        self.silence.restart(now, &self.stats);
        self.fresh = true;
    }

    /// The source closed: the tail of a cut-off telegram or frame will
    /// never come, and silence means nothing until it is back.
    pub fn source_down(&mut self) {
        self.reset();
        self.silence.stop();
    }

    /// Forgets partial telegrams and frames. The decryptor keeps its frame
    /// counters: a reconnected source must not replay frames.
    fn reset(&mut self) {
        self.framer.reset();
        self.splitter.reset();
        if let Some(d) = &mut self.decrypting {
            d.framer.reset();
        }
    }

    /// Passes bytes read from `source` through the framers and on to the outputs.
    pub fn feed(
        &mut self,
        bytes: &[u8],
        source: &mut dyn Input,
        outputs: &mut [Box<dyn Output>],
        cx: &Context,
    ) {
        let Pipeline {
            splitter,
            framer,
            decrypting,
            forward,
            stats,
            silence,
            last,
            fresh,
            last_telegram,
            key_problem,
            told_pass_through,
        } = self;
        stats.bytes_in += bytes.len() as u64;
        if *forward == Forward::Raw {
            let raw: Rc<[u8]> = Rc::from(bytes);
            deliver(outputs, cx, Delivery::Raw(&raw));
        }
        // In raw mode the framers still run: their counts drive the stats,
        // detection and the silence warning.
        let mut out = Out {
            source,
            outputs,
            cx,
            forward: *forward,
            stats,
            silence,
            last,
            fresh,
            last_telegram,
        };
        splitter.push(bytes, |piece| match piece {
            Piece::Text(run) => {
                out.source.observe_bytes(run);
                framer.push(run, |event| out.event(event));
            }
            Piece::Frame(frame) => match decrypting {
                None => out.pass_through(&frame, told_pass_through),
                Some(d) => {
                    out.source.observe_frame(&frame, false);
                    out.stats.frames += 1;
                    match d.decryptor.decrypt(&frame) {
                        Ok(plaintext) => d.framer.push(plaintext, |event| out.event(event)),
                        Err(reason) => out.frame_rejected(reason),
                    }
                    if let Some(news) = d.decryptor.news() {
                        if news.is_problem() {
                            warn!("{} (the key in {})", news.message(), d.key_path.display());
                        } else {
                            info!("{}", news.message());
                        }
                        *key_problem = news.is_problem().then_some(news);
                    }
                }
            },
            Piece::Rejected(reason) => out.frame_rejected(reason),
        });
    }

    /// After new input or time: lets the source switch its setting, and
    /// frames on with the new parity if it did.
    pub fn settle(&mut self, source: &mut dyn Input, now: Instant) {
        if let Some(parity) = source.settle(now) {
            self.framer = Framer::new(parity);
            self.splitter.reset();
        }
    }

    /// The once-a-second check: a source that stays quiet too long is told so.
    pub fn tick(&mut self, source: &mut dyn Input, registry: &Registry, now: Instant) {
        if let Some(quiet) = self.silence.due(now, &self.stats, self.key_problem) {
            match source.silent(registry, now, &quiet) {
                AfterSilence::Reset => self.reset(),
                AfterSilence::Closed => self.source_down(),
            }
        }
        self.settle(source, now);
    }
}

/// What one [`Pipeline::feed`] hands on to, borrowed from the pipeline
/// for the length of the call.
struct Out<'a> {
    source: &'a mut dyn Input,
    outputs: &'a mut [Box<dyn Output>],
    cx: &'a Context<'a>,
    forward: Forward,
    stats: &'a mut Stats,
    silence: &'a mut Silence,
    last: &'a mut Option<Rc<[u8]>>,
    fresh: &'a mut bool,
    last_telegram: &'a mut Option<Instant>,
}

impl Out<'_> {
    /// A framer event, from the text or from a decrypted frame.
    fn event(&mut self, event: Event<'_>) {
        self.source.observe(&event);
        match event {
            Event::Telegram(telegram) => {
                if std::mem::take(self.fresh) {
                    if let Some(line) = self.source.announce(&telegram) {
                        info!("{line}");
                    }
                    if self.replayed(telegram.bytes) {
                        debug!("skipped a replayed telegram: the clients have it");
                        return;
                    }
                }
                self.stats.telegrams += 1;
                self.stats.cr_restored += u64::from(telegram.cr_restored);
                self.valid_input();
                if self.forward != Forward::Raw {
                    let out = Telegram::new(Rc::from(telegram.bytes), self.cx.now);
                    deliver(self.outputs, self.cx, Delivery::Telegram(&out));
                    *self.last = Some(out.bytes);
                }
            }
            Event::Rejected { reason, frame } => {
                self.stats.reject(reason);
                debug!("rejected a telegram: {}", reason.name());
                if let (Forward::All, Some(frame)) = (self.forward, frame) {
                    deliver(self.outputs, self.cx, Delivery::Damaged(&Rc::from(frame)));
                }
            }
        }
    }

    /// An encrypted frame without a key: forwarded whole, as a telegram is.
    fn pass_through(&mut self, frame: &Frame<'_>, told: &mut bool) {
        self.source.observe_frame(frame, true);
        self.stats.frames += 1;
        if !std::mem::replace(told, true) {
            info!(
                "encrypted frames arrive, and there is no key (--key-file): passing them through \
                 whole, for clients that decrypt them with the meter's key (Domoticz, Home \
                 Assistant)"
            );
        }
        if std::mem::take(self.fresh) {
            if let Some(line) = self.source.announce_frame(frame) {
                info!("{line}");
            }
            if self.replayed(frame.bytes) {
                debug!("skipped a replayed encrypted frame: the clients have it");
                return;
            }
        }
        self.valid_input();
        if self.forward != Forward::Raw {
            let out = Telegram::encrypted(Rc::from(frame.bytes), self.cx.now);
            deliver(self.outputs, self.cx, Delivery::Encrypted(&out));
            *self.last = Some(out.bytes);
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
        self.source.replays_on_connect() && self.last.as_deref() == Some(bytes)
    }

    /// A valid telegram or a frame passed through: the source is fine.
    fn valid_input(&mut self) {
        *self.last_telegram = Some(self.cx.now);
        self.silence.restart(self.cx.now, self.stats);
    }
}

fn deliver(outputs: &mut [Box<dyn Output>], cx: &Context, delivery: Delivery<'_>) {
    for output in outputs.iter_mut() {
        output.deliver(cx, delivery);
    }
}
