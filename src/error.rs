//! The errors that end p1mux: a mistake in what it was told (exit 2, said
//! before anything is opened) and a failure to start (exit 1). Anything
//! that goes wrong later is logged and survived instead. `main` prints them,
//! in one place.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::config::UsageError;
use crate::encrypted::key::KeyFileError;
use crate::mqtt::config::PasswordError;
use crate::mqtt::supervisor::SupervisorError;
use crate::net::listen::ListenError;
use crate::source::serial::port::OpenError;

/// Why p1mux stopped.
#[derive(Debug)]
pub enum Error {
    /// The command line or the config file is wrong: exit status 2.
    Usage(Box<UsageError>),
    /// Something could not be opened or read at start: exit status 1.
    Start(StartError),
}

impl Error {
    /// The exit status: 2 for a usage error, 1 for a failure to start.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            Error::Start(_) => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(e) => e.fmt(f),
            Error::Start(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Error {
        Error::Usage(Box::new(e))
    }
}

impl From<StartError> for Error {
    fn from(e: StartError) -> Error {
        Error::Start(e)
    }
}

/// A failure that stops p1mux from starting (exit status 1).
#[derive(Debug)]
pub enum StartError {
    /// The serial port cannot be opened, and waiting would not help (no
    /// permission, not a serial device, in use).
    Serial { path: PathBuf, error: OpenError },
    /// A device name relative to the current directory that does not
    /// exist: nobody plugs a cable in there. `hint` names the likely one.
    RelativeDevice { path: PathBuf, hint: String },
    /// A meter key that cannot be read or is no key.
    Keys(KeyFileError),
    /// The MQTT password that cannot be read.
    MqttPassword(PasswordError),
    /// `--mqtt homeassistant`, and the Supervisor named no usable broker.
    Supervisor(SupervisorError),
    /// The raw clients' port (`--listen`) cannot be listened on.
    Listen(ListenError),
    /// The status page's port (`--http`) cannot be listened on.
    StatusPage(ListenError),
    /// The mDNS responder cannot open its sockets (`--mdns`).
    Mdns(crate::mdns::error::MdnsError),
    /// The poll loop itself failed.
    EventLoop(io::Error),
    /// What an output still reports as text (binding a listener, TLS
    /// set-up), in its own words.
    Other(String),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Serial { path, error } => f.write_str(&error.describe(path)),
            StartError::RelativeDevice { path, hint } => {
                write!(f, "--device {}: {hint}", path.display())
            }
            StartError::Keys(e) => e.fmt(f),
            StartError::MqttPassword(e) => e.fmt(f),
            StartError::Supervisor(e) => e.fmt(f),
            StartError::Listen(e) => e.fmt(f),
            StartError::StatusPage(e) => write!(f, "--http: {e}"),
            StartError::Mdns(e) => e.fmt(f),
            StartError::EventLoop(e) => write!(f, "event loop failed: {e}"),
            StartError::Other(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for StartError {}

impl From<String> for StartError {
    fn from(message: String) -> StartError {
        StartError::Other(message)
    }
}

impl From<KeyFileError> for StartError {
    fn from(e: KeyFileError) -> StartError {
        StartError::Keys(e)
    }
}

impl From<SupervisorError> for StartError {
    fn from(e: SupervisorError) -> StartError {
        StartError::Supervisor(e)
    }
}

impl From<PasswordError> for StartError {
    fn from(e: PasswordError) -> StartError {
        StartError::MqttPassword(e)
    }
}
