//! Why the MQTT options cannot be used, and why the password cannot be
//! read: each says what to write or do instead, and never the password.

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::PASSWORD_CREDENTIAL;
use crate::net::addr::AddrError;

/// What is wrong with the `--mqtt` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BrokerError {
    Scheme,
    Path,
    EmptyUser,
    LongUser,
    Addr(AddrError),
}

/// A mistake in the MQTT options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MqttConfigError {
    /// The URL as written, and what is wrong with it.
    Broker {
        url: String,
        error: BrokerError,
    },
    /// `USER:PASSWORD@` in the URL (the URL is not repeated).
    PasswordInUrl,
    /// An MQTT option without `--mqtt`.
    NeedsBroker {
        option: &'static str,
    },
    /// With `--forward raw` there are no telegrams to publish.
    RawForward,
    CaWithoutTls {
        host: String,
    },
    /// A password (file, or `mqtt-password` in a config file) without a user.
    PasswordWithoutUser {
        option: &'static str,
    },
    /// A password with `--mqtt homeassistant`, whose Supervisor gives one.
    PasswordFromSupervisor {
        option: &'static str,
    },
    Prefix {
        option: &'static str,
        text: String,
    },
    Id(String),
    Qos(u8),
    Interval(u64),
    DiscoveryContradiction,
}

impl MqttConfigError {
    /// The option the mistake is in, as on the command line.
    pub fn option(&self) -> &'static str {
        match self {
            MqttConfigError::Broker { .. } | MqttConfigError::PasswordInUrl => "--mqtt",
            MqttConfigError::NeedsBroker { option }
            | MqttConfigError::PasswordWithoutUser { option }
            | MqttConfigError::PasswordFromSupervisor { option }
            | MqttConfigError::Prefix { option, .. } => option,
            MqttConfigError::RawForward => "--forward",
            MqttConfigError::CaWithoutTls { .. } => "--mqtt-ca",
            MqttConfigError::Id(_) => "--mqtt-id",
            MqttConfigError::Qos(_) => "--mqtt-qos",
            MqttConfigError::Interval(_) => "--mqtt-interval",
            MqttConfigError::DiscoveryContradiction => "--no-mqtt-discovery",
        }
    }
}

impl fmt::Display for MqttConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MqttConfigError::Broker { url, error } => {
                let why = match error {
                    BrokerError::Scheme => "it must start with mqtt:// or mqtts://".to_string(),
                    BrokerError::Path => "a broker address has no path".to_string(),
                    BrokerError::EmptyUser => "the user name before '@' is empty".to_string(),
                    BrokerError::LongUser => "the user name is too long".to_string(),
                    BrokerError::Addr(e) => e.to_string(),
                };
                write!(
                    f,
                    "bad --mqtt '{url}': {why}; use mqtt://[USER@]HOST[:PORT] or mqtts://..., \
                     e.g. mqtt://homeassistant.local"
                )
            }
            MqttConfigError::PasswordInUrl => write!(
                f,
                "--mqtt holds a password (USER:PASSWORD@), which `ps` would show every \
                 user: put it in a file and give --mqtt-password-file FILE (or the systemd \
                 credential {PASSWORD_CREDENTIAL})"
            ),
            MqttConfigError::NeedsBroker { option } => write!(
                f,
                "{option} sets up MQTT publishing: give --mqtt mqtt://HOST too"
            ),
            MqttConfigError::RawForward => f.write_str(
                "--forward raw passes bytes without finding telegrams, so there is nothing to \
                 publish: MQTT needs --forward valid (the default) or all",
            ),
            MqttConfigError::CaWithoutTls { host } => write!(
                f,
                "--mqtt-ca is for TLS: use mqtts://{host} (port 8883 by default)"
            ),
            MqttConfigError::PasswordWithoutUser { option } => {
                write!(f, "{option} needs a user name: --mqtt mqtt://USER@HOST")
            }
            MqttConfigError::PasswordFromSupervisor { option } => write!(
                f,
                "{option} is not needed with --mqtt homeassistant: the Supervisor gives \
                 p1mux the broker's user and password; leave {option} out, or give \
                 --mqtt mqtt://USER@HOST for a broker of your own"
            ),
            MqttConfigError::Prefix { option, text } => write!(
                f,
                "bad {option} '{text}': give topic levels separated by '/', without '+', '#', \
                 or an empty level, e.g. p1mux or site/flat-3"
            ),
            MqttConfigError::Id(id) => write!(
                f,
                "bad --mqtt-id '{id}': use letters, digits, '-' and '_' (at most 128)"
            ),
            MqttConfigError::Qos(n) => write!(
                f,
                "bad --mqtt-qos {n}: use 0 (default) or 1 (acknowledged, resent after a \
                 reconnect)"
            ),
            MqttConfigError::Interval(s) => {
                write!(f, "bad --mqtt-interval {s}: at most 86400 seconds (a day)")
            }
            MqttConfigError::DiscoveryContradiction => {
                f.write_str("--mqtt-discovery-prefix and --no-mqtt-discovery contradict: give one")
            }
        }
    }
}

impl std::error::Error for MqttConfigError {}

/// Why the MQTT password file cannot be used. Names the file, never its
/// contents.
#[derive(Debug)]
pub enum PasswordError {
    Read { path: PathBuf, error: io::Error },
    TooLong { path: PathBuf, limit: u64 },
    Empty { path: PathBuf },
}

impl fmt::Display for PasswordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordError::Read { path, error } => {
                let shown = path.display();
                match error.kind() {
                    io::ErrorKind::NotFound => {
                        write!(f, "reading the MQTT password file {shown}: no such file")
                    }
                    io::ErrorKind::PermissionDenied => write!(
                        f,
                        "reading the MQTT password file {shown}: permission denied; make it \
                         readable by the user p1mux runs as, or pass it with \
                         LoadCredential={PASSWORD_CREDENTIAL}:{shown}"
                    ),
                    _ => write!(f, "reading the MQTT password file {shown}: {error}"),
                }
            }
            PasswordError::TooLong { path, limit } => write!(
                f,
                "the MQTT password file {} is longer than {limit} bytes: not a password",
                path.display()
            ),
            PasswordError::Empty { path } => {
                write!(f, "the MQTT password file {} is empty", path.display())
            }
        }
    }
}

impl std::error::Error for PasswordError {}
