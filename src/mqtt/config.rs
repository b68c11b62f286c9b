//! The MQTT options, validated: where the broker is, what to call things.
//!
//! Everything that can be checked before anything is opened is checked
//! here, so a mistake is a usage error (exit 2). Files (the password, a CA)
//! are read when the output starts ([`super::MqttOutput::new`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::codec::QoS;
use crate::net::addr::{AddrError, HostPort};

mod error;
pub use error::{BrokerError, MqttConfigError, PasswordError};

/// The credential name of the password under `$CREDENTIALS_DIRECTORY`
/// (systemd's `LoadCredential=p1mux-mqtt-password:/etc/p1mux/mqtt-password`).
pub const PASSWORD_CREDENTIAL: &str = "p1mux-mqtt-password";

/// `--mqtt homeassistant`: Home Assistant's own broker, its address and
/// login asked of the Supervisor at start ([`super::supervisor`]).
pub const HOME_ASSISTANT: &str = "homeassistant";

/// The MQTT output as configured: complete, or waiting for the broker that
/// the Supervisor names at start.
#[derive(Clone, Debug)]
pub enum MqttSetup {
    /// `--mqtt mqtt[s]://...`.
    Ready(MqttConfig),
    /// `--mqtt homeassistant`: the options, checked but for the broker and
    /// its password, which [`super::supervisor::broker`] fills in.
    FromSupervisor(MqttOptions),
}

/// Where the broker is: `mqtt://[USER@]HOST[:PORT]` or `mqtts://...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broker {
    /// A host name or an IP address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub user: Option<String>,
}

impl Broker {
    /// Parses `--mqtt`.
    pub fn parse(s: &str) -> Result<Broker, MqttConfigError> {
        let bad = |error| MqttConfigError::Broker {
            url: s.to_string(),
            error,
        };
        let (tls, rest) = if let Some(rest) = s.strip_prefix("mqtt://") {
            (false, rest)
        } else if let Some(rest) = s.strip_prefix("mqtts://") {
            (true, rest)
        } else {
            return Err(bad(BrokerError::Scheme));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#']) {
            return Err(bad(BrokerError::Path));
        }
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((user, _)) if user.contains(':') => return Err(MqttConfigError::PasswordInUrl),
            Some(("", _)) => return Err(bad(BrokerError::EmptyUser)),
            Some((user, _)) if user.len() > 1024 => return Err(bad(BrokerError::LongUser)),
            Some((user, hostport)) => (Some(user.to_string()), hostport),
            None => (None, rest),
        };
        let split = HostPort::parse(hostport).map_err(|e| bad(BrokerError::Addr(e)))?;
        let port = match split.port {
            None if tls => 8883,
            None => 1883,
            Some(0) => return Err(bad(BrokerError::Addr(AddrError::PortOutOfRange(0)))),
            Some(port) => port,
        };
        Ok(Broker {
            host: split.host.to_string(),
            port,
            tls,
            user,
        })
    }
}

impl Broker {
    /// `mqtt://host:port as user`: who p1mux logs in as, where (never the
    /// password), for the start-up lines.
    pub fn with_user(&self) -> String {
        match &self.user {
            Some(user) => format!("{self} as {user}"),
            None => self.to_string(),
        }
    }
}

impl fmt::Display for Broker {
    /// `mqtt://host:port`, without the user: for log lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// The MQTT output's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MqttConfig {
    pub broker: Broker,
    /// Where the password is, if there is a user: `--mqtt-password-file`,
    /// else the systemd credential when it exists.
    pub password_file: Option<PathBuf>,
    /// The password itself, from a config file (`mqtt-password`).
    pub password: Option<Password>,
    /// A private CA to trust instead of the system's (mqtts only).
    pub ca: Option<PathBuf>,
    /// First topic level: `PREFIX/ID/state`.
    pub prefix: String,
    /// The meter's name in topics; None: from its equipment id.
    pub id: Option<String>,
    /// QoS of telegram and state messages.
    pub qos: QoS,
    /// Home Assistant's discovery prefix; None: no discovery.
    pub discovery: Option<String>,
    /// Publish at most one telegram per this; zero: every telegram.
    pub interval: Duration,
}

/// Whether `s` is one safe topic level: `[A-Za-z0-9_-]`, which every
/// broker, bridge and Home Assistant id takes.
pub fn is_topic_safe(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A topic prefix: levels separated by '/', no wildcards, no empty level.
fn check_prefix(option: &'static str, s: &str) -> Result<String, MqttConfigError> {
    let ok = !s.is_empty()
        && s.len() <= 512
        && !s.contains(['+', '#', '\0'])
        && s.split('/').all(|level| !level.is_empty());
    if ok {
        Ok(s.to_string())
    } else {
        Err(MqttConfigError::Prefix {
            option,
            text: s.to_string(),
        })
    }
}

/// A password, kept out of Debug output and logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(pub Vec<u8>);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(redacted)")
    }
}

/// The MQTT options as given (command line and config file), before
/// they are checked: what [`MqttConfig::from_options`] takes.
#[derive(Clone, Debug, Default)]
pub struct MqttOptions {
    pub url: Option<String>,
    pub password_file: Option<PathBuf>,
    pub password: Option<Password>,
    pub ca: Option<PathBuf>,
    pub topic: Option<String>,
    pub id: Option<String>,
    pub qos: Option<u8>,
    pub discovery_prefix: Option<String>,
    pub no_discovery: bool,
    pub interval: Option<u64>,
}

impl MqttConfig {
    /// The MQTT settings; None without a broker (`--mqtt`).
    pub fn from_options(options: &MqttOptions) -> Result<Option<MqttSetup>, MqttConfigError> {
        if options.url.as_deref() == Some(HOME_ASSISTANT) {
            // The Supervisor gives the password with the broker.
            let given = [
                ("mqtt-password", options.password.is_some()),
                ("--mqtt-password-file", options.password_file.is_some()),
            ];
            if let Some(&(option, _)) = given.iter().find(|(_, set)| *set) {
                return Err(MqttConfigError::PasswordFromSupervisor { option });
            }
            // Every other option is checked now, as for any broker: a
            // mistake is a usage error before anything is asked.
            let scheme = if options.ca.is_some() {
                "mqtts"
            } else {
                "mqtt"
            };
            let stand_in = MqttOptions {
                url: Some(format!("{scheme}://{HOME_ASSISTANT}")),
                ..options.clone()
            };
            MqttConfig::from_options_with(&stand_in, None)?;
            return Ok(Some(MqttSetup::FromSupervisor(options.clone())));
        }
        let credentials = crate::encrypted::key::credentials_directory();
        let config = MqttConfig::from_options_with(options, credentials.as_deref())?;
        Ok(config.map(MqttSetup::Ready))
    }

    /// The settings for `options`, password files looked for in
    /// `credentials` (`$CREDENTIALS_DIRECTORY`).
    pub fn from_options_with(
        options: &MqttOptions,
        credentials: Option<&Path>,
    ) -> Result<Option<MqttConfig>, MqttConfigError> {
        let Some(url) = &options.url else {
            let given = [
                ("--mqtt-password-file", options.password_file.is_some()),
                ("mqtt-password", options.password.is_some()),
                ("--mqtt-ca", options.ca.is_some()),
                ("--mqtt-topic", options.topic.is_some()),
                ("--mqtt-id", options.id.is_some()),
                ("--mqtt-qos", options.qos.is_some()),
                (
                    "--mqtt-discovery-prefix",
                    options.discovery_prefix.is_some(),
                ),
                ("--no-mqtt-discovery", options.no_discovery),
                ("--mqtt-interval", options.interval.is_some()),
            ];
            return match given.iter().find(|(_, set)| *set) {
                Some(&(option, _)) => Err(MqttConfigError::NeedsBroker { option }),
                None => Ok(None),
            };
        };
        let broker = Broker::parse(url)?;
        if options.ca.is_some() && !broker.tls {
            return Err(MqttConfigError::CaWithoutTls {
                host: broker.host.clone(),
            });
        }
        let (password_file, password) = match (&broker.user, options) {
            (
                None,
                MqttOptions {
                    password: Some(_), ..
                },
            ) => {
                return Err(MqttConfigError::PasswordWithoutUser {
                    option: "mqtt-password",
                });
            }
            (
                None,
                MqttOptions {
                    password_file: Some(_),
                    ..
                },
            ) => {
                return Err(MqttConfigError::PasswordWithoutUser {
                    option: "--mqtt-password-file",
                });
            }
            (None, _) => (None, None),
            (
                Some(_),
                MqttOptions {
                    password: Some(pw), ..
                },
            ) => (None, Some(pw.clone())),
            (
                Some(_),
                MqttOptions {
                    password_file: Some(path),
                    ..
                },
            ) => (Some(path.clone()), None),
            (Some(_), _) => (
                credentials
                    .map(|dir| dir.join(PASSWORD_CREDENTIAL))
                    .filter(|path| path.exists()),
                None,
            ),
        };
        let prefix = check_prefix("--mqtt-topic", options.topic.as_deref().unwrap_or("p1mux"))?;
        let id = match &options.id {
            Some(id) if !is_topic_safe(id) => return Err(MqttConfigError::Id(id.clone())),
            id => id.clone(),
        };
        let qos = match options.qos {
            None | Some(0) => QoS::AtMostOnce,
            Some(1) => QoS::AtLeastOnce,
            Some(n) => return Err(MqttConfigError::Qos(n)),
        };
        let discovery = match (&options.discovery_prefix, options.no_discovery) {
            (Some(_), true) => return Err(MqttConfigError::DiscoveryContradiction),
            (_, true) => None,
            (given, false) => Some(check_prefix(
                "--mqtt-discovery-prefix",
                given.as_deref().unwrap_or("homeassistant"),
            )?),
        };
        let interval = Duration::from_secs(match options.interval {
            Some(s) if s > 86_400 => return Err(MqttConfigError::Interval(s)),
            s => s.unwrap_or(0),
        });
        Ok(Some(MqttConfig {
            broker,
            password_file,
            password,
            ca: options.ca.clone(),
            prefix,
            id,
            qos,
            discovery,
            interval,
        }))
    }

    /// The password to log in with: given in the config file, or read from
    /// its file; with a warning to log when others may read that file.
    pub fn password(&self) -> Result<Option<PasswordRead>, PasswordError> {
        match (&self.password, &self.password_file) {
            (Some(Password(pw)), _) => Ok(Some((pw.clone(), None))),
            (None, Some(path)) => read_password(path).map(Some),
            (None, None) => Ok(None),
        }
    }
}

/// A password, and a warning to log when others may read its file.
pub type PasswordRead = (Vec<u8>, Option<String>);

/// Longest password file read: a password, not a log file named by mistake.
const MAX_PASSWORD_FILE: u64 = 4096;

/// Reads the password: the file's bytes less one final line end. Returns a
/// warning to log when others than the owner may read the file.
pub fn read_password(path: &Path) -> Result<PasswordRead, PasswordError> {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let failed = |error| PasswordError::Read {
        path: path.to_owned(),
        error,
    };
    let file = std::fs::File::open(path).map_err(failed)?;
    let mode = file.metadata().map_err(failed)?.permissions().mode();
    let mut bytes = Vec::new();
    file.take(MAX_PASSWORD_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(failed)?;
    if bytes.len() as u64 > MAX_PASSWORD_FILE {
        return Err(PasswordError::TooLong {
            path: path.to_owned(),
            limit: MAX_PASSWORD_FILE,
        });
    }
    for end in [&b"\r\n"[..], b"\n"] {
        if let Some(rest) = bytes.strip_suffix(end) {
            bytes.truncate(rest.len());
            break;
        }
    }
    if bytes.is_empty() {
        return Err(PasswordError::Empty {
            path: path.to_owned(),
        });
    }
    let shown = path.display();
    let warning = (mode & 0o044 != 0).then(|| {
        format!(
            "the MQTT password file {shown} can be read by other users (mode {:03o}): chmod 600 {shown}",
            mode & 0o777
        )
    });
    Ok((bytes, warning))
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
