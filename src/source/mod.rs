//! Where the meter's bytes come from: a serial port, a network source, or
//! the built-in demo meter, all behind one [`Source`].
//!
//! A source must never cost the clients anything when it goes away: it is
//! closed, the outage logged once, and it is brought back with backoff
//! ([`crate::outage`]). Each kind lives in its own file and implements [`Input`];
//! the event loop only ever talks to `dyn Input`, so a new kind of source
//! touches this folder and nothing else.

pub mod demo;
pub mod network;
pub mod serial;

use std::io;
use std::time::Instant;

use mio::{Registry, Token};

use crate::config::SourceConfig;
use crate::error::StartError;
use crate::framer::Parity;
use crate::health::{Quiet, SourceStatus};
use crate::pipeline::Seen;

/// Poll tokens a source may use, from the first one it is given.
pub const SOURCE_TOKENS: usize = 2;

/// The source a run of `serve` reads.
pub type Source = Box<dyn Input>;

/// Opens (or starts waiting for) the source `config` names. Fails only for
/// what waiting cannot fix, such as a device the user may not open.
pub fn open(
    config: &SourceConfig,
    registry: &Registry,
    first_token: usize,
    now: Instant,
) -> Result<Source, StartError> {
    Ok(match config {
        SourceConfig::Serial { device, settings } => Box::new(serial::SerialInput::open(
            device.clone(),
            settings.clone(),
            registry,
            Token(first_token),
            now,
        )?),
        SourceConfig::Network(address) => Box::new(network::NetInput::new(
            address.clone(),
            registry,
            first_token,
            now,
        )?),
        SourceConfig::Demo => Box::new(demo::DemoInput::new(now)),
    })
}

/// What a read from a source gave.
pub enum Read {
    Data(usize),
    /// Nothing more for now (or nothing open).
    Empty,
    /// The source is gone (EOF, EIO, unplugged, connection reset); the
    /// caller should call [`Input::lost`].
    Lost(io::Error),
}

/// What the loop should do after a source handled an event or the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Nothing,
    /// Bytes may be waiting: read now.
    Readable,
    /// The source (re)opened or (re)connected: start framing afresh with
    /// [`Input::parity`], and read now (edge-triggered polling would not
    /// report bytes that were already waiting).
    Up,
}

/// What a source did about a long quiet period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterSilence {
    /// Still open: forget any partial frame (the meter may have been
    /// swapped for one without CRCs).
    Reset,
    /// It closed itself to start over: it will report [`Change::Up`].
    Closed,
}

/// One kind of source. Everything is non-blocking.
pub trait Input {
    /// How the framer must read the bytes now.
    fn parity(&self) -> Parity;

    /// Open or connected: bytes can come, and silence means something.
    fn is_up(&self) -> bool;

    /// When [`Input::on_time`] wants to run next (a reopen, a retry, the
    /// demo meter's next telegram).
    fn due_at(&self) -> Option<Instant>;

    /// Acts on the clock.
    fn on_time(&mut self, registry: &Registry, now: Instant) -> Change;

    /// Readiness on one of the source's tokens.
    fn on_ready(&mut self, registry: &Registry, token: Token, now: Instant) -> Change;

    /// Reads what has arrived, without blocking.
    fn read(&mut self, buf: &mut [u8]) -> Read;

    /// The source went away ([`Read::Lost`]): log once, close, schedule
    /// the return.
    fn lost(&mut self, registry: &Registry, err: &io::Error, now: Instant);

    /// SIGHUP: close and open again at once, saying so in the log.
    fn reopen(&mut self, registry: &Registry, now: Instant);

    /// What the pipeline saw (bytes, framer events, encrypted frames, the
    /// first telegram since the source came up), for detection and for a
    /// line in the log, if this kind of source has something to say.
    fn saw(&mut self, _seen: &Seen<'_>) -> Option<String> {
        None
    }

    /// After new input or at a tick: `Some(parity)` when the source switched
    /// its serial setting, so framing must restart with that parity.
    fn settle(&mut self, _now: Instant) -> Option<Parity> {
        None
    }

    /// Whether the source sends its last telegram again when (re)connected
    /// (another p1mux, a gateway that replays): the first telegram after a
    /// reconnect is then skipped if the clients had it already.
    fn replays_on_connect(&self) -> bool {
        false
    }

    /// No valid telegram for a long while: warn in this source's own words,
    /// and do what may help.
    fn silent(&mut self, registry: &Registry, now: Instant, quiet: &Quiet) -> AfterSilence;

    /// What the source is doing, for the status snapshot.
    fn status(&self) -> SourceStatus;
}

/// Reads `reader` once, retrying interrupted reads: the one non-blocking
/// read every source's bytes go through.
pub fn read_once(reader: &mut impl io::Read, buf: &mut [u8], eof: &str) -> Read {
    loop {
        match reader.read(buf) {
            Ok(0) => return Read::Lost(io::Error::new(io::ErrorKind::UnexpectedEof, eof)),
            Ok(n) => return Read::Data(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Read::Empty,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Read::Lost(e),
        }
    }
}
