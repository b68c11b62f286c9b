//! What the session ([`super::session`]) tells whoever drives the
//! connection: events to act on, and faults that end the connection.

use std::fmt;

use super::codec;

/// Why the session gave up on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// CONNACK with a refusal code (3.2.2.3).
    Refused(u8),
    /// The broker sent something that is not MQTT 3.1.1.
    Protocol(String),
    /// The broker did not answer in time.
    Timeout(&'static str),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Refused(code) => write!(
                f,
                "the broker refused the connection: {} (CONNACK code {code})",
                codec::refusal(*code)
            ),
            Fault::Protocol(why) => f.write_str(why),
            Fault::Timeout(what) => write!(f, "the broker did not answer {what} in time"),
        }
    }
}

/// What the broker said that the output acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// CONNACK accepted: the connection is ready for messages.
    Accepted,
    /// The broker acknowledged a message or answered a PINGREQ: the
    /// connection works, not just accepts.
    Acknowledged,
    /// A message on a subscribed topic.
    Message {
        topic: String,
        payload: Vec<u8>,
        retain: bool,
    },
}
