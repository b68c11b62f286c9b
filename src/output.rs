//! What every output (the raw TCP clients of the hub, and whatever else
//! publishes telegrams) offers the event loop, and what it is handed.
//!
//! An output owns a range of poll tokens ([`TOKENS_PER_OUTPUT`] from the
//! first one it is given), so the loop can route readiness to it without
//! knowing what it is. An output must never block: it queues (bounded) and
//! writes when its sockets have room. An output that listens for TCP
//! connections plugs a handler into [`crate::net::server::Server`] rather
//! than accepting itself. [`crate::outputs::LIST`] builds every output.

use std::cell::OnceCell;
use std::rc::Rc;
use std::time::Instant;

use mio::Registry;
use mio::event::Event;

use crate::health::{OutputStatus, Status};
use crate::telegram::Reading;

/// Poll tokens reserved for each output: listeners and connections.
/// 2^20, so that 32-bit targets (a Raspberry Pi's armhf) still have room
/// for many outputs.
pub const TOKENS_PER_OUTPUT: usize = 1 << 20;

/// A telegram that passed every check, ready to go out; or, in a
/// [`Delivery::Encrypted`], an encrypted frame passed through whole.
#[derive(Debug, Clone)]
pub struct Telegram {
    /// '/' through the '!' line's LF, exactly as the meter meant it
    /// (parity bits stripped): what every client gets, byte for byte. For
    /// an encrypted frame, 0xDB through its GCM tag, as on the wire.
    pub bytes: Rc<[u8]>,
    /// When it was complete, for replay age and status.
    pub at: Instant,
    /// Its values, parsed on first use by an output that wants them and
    /// shared by all; never for an encrypted frame. Lazily, so the raw
    /// clients (delivered to first) get their writes before any parsing.
    values: OnceCell<Option<Rc<Reading>>>,
    /// Its values as the state JSON ([`crate::json::state`]), written once
    /// on first use and shared: the HTTP output's `/api/v1/data` and
    /// `telegram` event, MQTT's state topic.
    state: OnceCell<Option<Rc<str>>>,
}

impl Telegram {
    /// A valid telegram.
    pub fn new(bytes: Rc<[u8]>, at: Instant) -> Telegram {
        Telegram {
            bytes,
            at,
            values: OnceCell::new(),
            state: OnceCell::new(),
        }
    }

    /// An encrypted frame passed through: nothing to parse.
    pub fn encrypted(bytes: Rc<[u8]>, at: Instant) -> Telegram {
        Telegram {
            bytes,
            at,
            values: OnceCell::from(None),
            state: OnceCell::from(None),
        }
    }

    /// The telegram's values, parsed once, on the first call.
    pub fn reading(&self) -> Option<Rc<Reading>> {
        self.values
            .get_or_init(|| Some(Rc::new(Reading::parse(&self.bytes))))
            .clone()
    }

    /// The telegram's state JSON, written once, on the first call.
    pub fn state_json(&self) -> Option<Rc<str>> {
        self.state
            .get_or_init(|| {
                let reading = self.reading()?;
                Some(Rc::from(crate::json::state(&reading)))
            })
            .clone()
    }
}

/// What the pipeline hands every output.
#[derive(Debug, Clone, Copy)]
pub enum Delivery<'a> {
    /// A valid telegram.
    Telegram(&'a Telegram),
    /// An encrypted frame (Luxembourg, Austria), passed through whole
    /// because p1mux has no key: for clients that hold the key (Domoticz,
    /// Home Assistant), to be sent exactly as a telegram is (one write,
    /// the same queues and replay rule). It has no values to show:
    /// outputs that publish values skip it, or say "encrypted".
    Encrypted(&'a Telegram),
    /// `--forward all`: a complete telegram whose CRC failed.
    Damaged(&'a Rc<[u8]>),
    /// `--forward raw`: bytes exactly as read from the source.
    Raw(&'a Rc<[u8]>),
}

/// What an output needs from the loop for one call.
pub struct Context<'a> {
    pub registry: &'a Registry,
    pub now: Instant,
}

/// One way telegrams leave p1mux.
pub trait Output {
    /// Queues a delivery for whoever this output serves; writes at once
    /// where a socket has room, never waits.
    fn deliver(&mut self, cx: &Context, delivery: Delivery<'_>);

    /// Readiness on one of this output's tokens.
    fn on_event(&mut self, cx: &Context, event: &Event);

    /// When [`Output::on_time`] wants to run next, if sooner than the
    /// loop's one-second housekeeping tick.
    fn due_at(&self) -> Option<Instant> {
        None
    }

    /// Time-driven work: stalled peers, timeouts, retries. Called at every
    /// tick and whenever [`Output::due_at`] has passed.
    fn on_time(&mut self, cx: &Context);

    /// Work is left over from this turn (input beyond a read budget): the
    /// loop polls again without sleeping and calls [`Output::on_pending`].
    fn has_pending(&self) -> bool {
        false
    }

    /// Continues the work [`Output::has_pending`] announced.
    fn on_pending(&mut self, _cx: &Context) {}

    /// Closes everything cleanly before p1mux exits; returns a few words
    /// for the exit log line, e.g. "closing 2 clients".
    fn shutdown(&mut self, cx: &Context) -> String;

    /// This output's part of the SIGUSR1 stats line.
    fn summary(&self) -> String;

    /// What this output reports for the status snapshot.
    fn status(&self) -> OutputStatus;

    /// The gateway's state, once a second and when the source changes.
    fn observe(&mut self, _cx: &Context, _status: &Status) {}
}

/// "1 client", "2 clients".
pub fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_json_is_written_once_and_shared() {
        let bytes: &[u8] = include_bytes!("../tests/data/dsmr50_iskra_am550_2mbus.txt");
        let telegram = Telegram::new(Rc::from(bytes), Instant::now());
        let first = telegram.state_json().expect("a telegram has values");
        let again = telegram.state_json().unwrap();
        assert!(Rc::ptr_eq(&first, &again), "one string for every output");
        assert_eq!(&*first, crate::json::state(&telegram.reading().unwrap()));
        let frame = Telegram::encrypted(Rc::from(&b"\xdb"[..]), Instant::now());
        assert!(
            frame.state_json().is_none(),
            "an encrypted frame has no values"
        );
    }
}
