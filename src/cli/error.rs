//! Why a value on the command line (or under the same key in a config
//! file) cannot be read. Each message says what to write instead.

use std::fmt;
use std::io;

use crate::config::forward::ForwardError;
use crate::net::addr::AddrError;
use crate::net::allow::CidrError;

/// What is wrong with a `--listen` or `--http` address.
#[derive(Debug)]
pub enum ListenError {
    /// A bare number above 65535.
    BareOutOfRange,
    NoPort,
    PortOutOfRange(u64),
    /// Not any of the forms.
    Form,
    NoAddress {
        host: String,
    },
    Lookup {
        host: String,
        error: io::Error,
    },
}

/// What is wrong with `--device tcp://...`.
#[derive(Debug, PartialEq, Eq)]
pub enum NetSourceError {
    NoPort,
    Addr(AddrError),
}

/// A value that cannot be read, with the text as written.
#[derive(Debug)]
pub enum ArgError {
    EmptyDevice,
    NetSource {
        text: String,
        error: NetSourceError,
    },
    Listen {
        text: String,
        error: ListenError,
    },
    Baud(String),
    Framing(String),
    Forward(ForwardError),
    Size(String),
    Seconds(String),
    Cidr(CidrError),
    /// An option that takes a whole number (`--max-clients`, `--mqtt-qos`).
    Number {
        option: &'static str,
        text: String,
    },
}

const LISTEN_FORMS: &str = "use IP:PORT, [IPv6]:PORT, NAME:PORT or PORT, e.g. 0.0.0.0:2001";

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgError::EmptyDevice => {
                f.write_str("--device is empty: give a serial device such as /dev/ttyUSB0")
            }
            ArgError::NetSource { text, error } => {
                let why = match error {
                    NetSourceError::NoPort => "no port".to_string(),
                    NetSourceError::Addr(e) => e.to_string(),
                };
                write!(
                    f,
                    "bad network source 'tcp://{text}': {why}; use tcp://HOST:PORT, e.g. \
                     tcp://192.168.1.50:23"
                )
            }
            ArgError::Listen { text, error } => {
                write!(f, "bad listen address '{text}': ")?;
                match error {
                    ListenError::BareOutOfRange => {
                        f.write_str("the port is out of range (0-65535)")
                    }
                    ListenError::NoPort => write!(f, "no port; {LISTEN_FORMS}"),
                    ListenError::PortOutOfRange(port) => write!(
                        f,
                        "port {port} is out of range (0-65535; 0 picks a free one)"
                    ),
                    ListenError::Form => f.write_str(LISTEN_FORMS),
                    ListenError::NoAddress { host } => write!(f, "{host} has no address"),
                    ListenError::Lookup { host, error } => {
                        write!(f, "looking up {host}: {error}; {LISTEN_FORMS}")
                    }
                }
            }
            ArgError::Baud(text) => write!(
                f,
                "bad baud rate '{text}': use auto, 115200 (DSMR 4/5) or 9600 (DSMR 2.2/3.0)"
            ),
            ArgError::Framing(text) => {
                write!(f, "unknown framing '{text}': use auto, 8n1 or 7e1")
            }
            ArgError::Forward(e) => e.fmt(f),
            ArgError::Size(text) => write!(
                f,
                "bad size '{text}': use bytes, or a number with K or M, e.g. 256K"
            ),
            ArgError::Seconds(text) => write!(
                f,
                "bad --seconds '{text}': use a whole number from 1 to 3600"
            ),
            ArgError::Cidr(e) => e.fmt(f),
            ArgError::Number { option, text } => {
                write!(f, "bad {option} '{text}': give a whole number, e.g. 1")
            }
        }
    }
}

impl std::error::Error for ArgError {}

impl From<ForwardError> for ArgError {
    fn from(e: ForwardError) -> ArgError {
        ArgError::Forward(e)
    }
}

impl From<CidrError> for ArgError {
    fn from(e: CidrError) -> ArgError {
        ArgError::Cidr(e)
    }
}
