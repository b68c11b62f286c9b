//! What the pipeline hands on: what it saw, for the source's detection and
//! log lines, and what goes out, for the outputs. The loop implements
//! [`Sink`] and dispatches; the pipeline calls nothing else.

use crate::encrypted::Frame;
use crate::framer::{Event, Telegram};
use crate::output::Delivery;

/// What the pipeline saw, in the order it saw it.
#[derive(Debug, Clone, Copy)]
pub enum Seen<'a> {
    /// Bytes of text (not of encrypted frames), before the framer:
    /// auto-detection counts them.
    Text(&'a [u8]),
    /// A framer event, those of decrypted telegrams included.
    Framed(&'a Event<'a>),
    /// A whole encrypted frame, before it is decrypted (a frame confirms
    /// the serial setting whatever the key). `passed_through`: there is no
    /// key, and it goes to the clients as it is, so it is valid input as a
    /// telegram is.
    Frame {
        frame: &'a Frame<'a>,
        passed_through: bool,
    },
    /// The first valid telegram since the source came up.
    FirstTelegram(&'a Telegram<'a>),
    /// The first encrypted frame passed through since the source came up.
    FirstFrame(&'a Frame<'a>),
}

/// Where a [`super::Pipeline::feed`] hands things on to.
pub trait Sink {
    /// Something the source may want to know (detection, the meter's name).
    fn seen(&mut self, seen: Seen<'_>);

    /// Something for the outputs.
    fn deliver(&mut self, delivery: Delivery<'_>);
}
