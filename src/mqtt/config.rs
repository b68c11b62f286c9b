//! The MQTT options, validated: where the broker is, what to call things.
//!
//! Everything that can be checked before anything is opened is checked
//! here, so a mistake is a usage error (exit 2). Files (the password, a CA)
//! are read when the output starts ([`super::MqttOutput::new`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::codec::QoS;
use crate::cli::ServeArgs;

/// The credential name of the password under `$CREDENTIALS_DIRECTORY`
/// (systemd's `LoadCredential=p1mux-mqtt-password:/etc/p1mux/mqtt-password`).
pub const PASSWORD_CREDENTIAL: &str = "p1mux-mqtt-password";

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
    pub fn parse(s: &str) -> Result<Broker, String> {
        let bad = |why: &str| {
            format!(
                "bad --mqtt '{s}': {why}; use mqtt://[USER@]HOST[:PORT] or mqtts://..., \
                 e.g. mqtt://homeassistant.local"
            )
        };
        let (tls, rest) = if let Some(rest) = s.strip_prefix("mqtt://") {
            (false, rest)
        } else if let Some(rest) = s.strip_prefix("mqtts://") {
            (true, rest)
        } else {
            return Err(bad("it must start with mqtt:// or mqtts://"));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#']) {
            return Err(bad("a broker address has no path"));
        }
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((user, _)) if user.contains(':') => {
                return Err(format!(
                    "--mqtt holds a password (USER:PASSWORD@), which `ps` would show every \
                     user: put it in a file and give --mqtt-password-file FILE (or the systemd \
                     credential {PASSWORD_CREDENTIAL})"
                ));
            }
            Some(("", _)) => return Err(bad("the user name before '@' is empty")),
            Some((user, _)) if user.len() > 1024 => return Err(bad("the user name is too long")),
            Some((user, hostport)) => (Some(user.to_string()), hostport),
            None => (None, rest),
        };
        let default_port = if tls { 8883 } else { 1883 };
        let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
            let (host, after) = inner.split_once(']').ok_or_else(|| bad("no ']'"))?;
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(bad("not an IPv6 address between [ and ]"));
            }
            match after {
                "" => (host, None),
                _ => (
                    host,
                    Some(
                        after
                            .strip_prefix(':')
                            .ok_or_else(|| bad("junk after ']'"))?,
                    ),
                ),
            }
        } else {
            match hostport.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        if !hostport.starts_with('[')
            && (host.contains([':', '[', ']']) || host.contains(char::is_whitespace))
        {
            return Err(bad("not a host name or address"));
        }
        let port = match port.map(str::parse::<u16>) {
            None => default_port,
            Some(Ok(port)) if port > 0 => port,
            Some(_) => return Err(bad("the port must be a number from 1 to 65535")),
        };
        Ok(Broker {
            host: host.to_string(),
            port,
            tls,
            user,
        })
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
fn check_prefix(option: &str, s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 512
        && !s.contains(['+', '#', '\0'])
        && s.split('/').all(|level| !level.is_empty());
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "bad {option} '{s}': give topic levels separated by '/', without '+', '#', or \
             an empty level, e.g. p1mux or site/flat-3"
        ))
    }
}

impl MqttConfig {
    /// The MQTT settings from the command line; None without `--mqtt`.
    pub fn from_args(args: &ServeArgs) -> Result<Option<MqttConfig>, String> {
        let credentials = crate::encrypted::key::credentials_directory();
        MqttConfig::from_args_with(args, credentials.as_deref())
    }

    fn from_args_with(
        args: &ServeArgs,
        credentials: Option<&Path>,
    ) -> Result<Option<MqttConfig>, String> {
        let Some(url) = &args.mqtt else {
            let given = [
                ("--mqtt-password-file", args.mqtt_password_file.is_some()),
                ("--mqtt-ca", args.mqtt_ca.is_some()),
                ("--mqtt-topic", args.mqtt_topic.is_some()),
                ("--mqtt-id", args.mqtt_id.is_some()),
                ("--mqtt-qos", args.mqtt_qos.is_some()),
                (
                    "--mqtt-discovery-prefix",
                    args.mqtt_discovery_prefix.is_some(),
                ),
                ("--no-mqtt-discovery", args.no_mqtt_discovery),
                ("--mqtt-interval", args.mqtt_interval.is_some()),
            ];
            return match given.iter().find(|(_, set)| *set) {
                Some((option, _)) => Err(format!(
                    "{option} sets up MQTT publishing: give --mqtt mqtt://HOST too"
                )),
                None => Ok(None),
            };
        };
        let broker = Broker::parse(url)?;
        if args.forward == crate::cli::Forward::Raw {
            return Err(
                "--forward raw passes bytes without finding telegrams, so there is nothing to \
                 publish: MQTT needs --forward valid (the default) or all"
                    .into(),
            );
        }
        if args.mqtt_ca.is_some() && !broker.tls {
            return Err(format!(
                "--mqtt-ca is for TLS: use mqtts://{} (port 8883 by default)",
                broker.host
            ));
        }
        let password_file = match (&args.mqtt_password_file, &broker.user) {
            (Some(_), None) => {
                return Err(
                    "--mqtt-password-file needs a user name: --mqtt mqtt://USER@HOST".into(),
                );
            }
            (Some(path), Some(_)) => Some(path.clone()),
            (None, Some(_)) => credentials
                .map(|dir| dir.join(PASSWORD_CREDENTIAL))
                .filter(|path| path.exists()),
            (None, None) => None,
        };
        let prefix = check_prefix(
            "--mqtt-topic",
            args.mqtt_topic.as_deref().unwrap_or("p1mux"),
        )?;
        let id = match &args.mqtt_id {
            Some(id) if !is_topic_safe(id) => {
                return Err(format!(
                    "bad --mqtt-id '{id}': use letters, digits, '-' and '_' (at most 128)"
                ));
            }
            id => id.clone(),
        };
        let qos = match args.mqtt_qos {
            None | Some(0) => QoS::AtMostOnce,
            Some(1) => QoS::AtLeastOnce,
            Some(n) => {
                return Err(format!(
                    "bad --mqtt-qos {n}: use 0 (default) or 1 (acknowledged, resent after a \
                     reconnect)"
                ));
            }
        };
        let discovery = match (&args.mqtt_discovery_prefix, args.no_mqtt_discovery) {
            (Some(_), true) => {
                return Err(
                    "--mqtt-discovery-prefix and --no-mqtt-discovery contradict: give one".into(),
                );
            }
            (_, true) => None,
            (given, false) => Some(check_prefix(
                "--mqtt-discovery-prefix",
                given.as_deref().unwrap_or("homeassistant"),
            )?),
        };
        let interval = Duration::from_secs(match args.mqtt_interval {
            Some(s) if s > 86_400 => {
                return Err(format!(
                    "bad --mqtt-interval {s}: at most 86400 seconds (a day)"
                ));
            }
            s => s.unwrap_or(0),
        });
        Ok(Some(MqttConfig {
            broker,
            password_file,
            ca: args.mqtt_ca.clone(),
            prefix,
            id,
            qos,
            discovery,
            interval,
        }))
    }
}

/// Longest password file read: a password, not a log file named by mistake.
const MAX_PASSWORD_FILE: u64 = 4096;

/// Reads the password: the file's bytes less one final line end. Returns a
/// warning to log when others than the owner may read the file.
pub fn read_password(path: &Path) -> Result<(Vec<u8>, Option<String>), String> {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display();
    let failed = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => {
            format!("reading the MQTT password file {shown}: no such file")
        }
        std::io::ErrorKind::PermissionDenied => format!(
            "reading the MQTT password file {shown}: permission denied; make it readable by the \
             user p1mux runs as, or pass it with LoadCredential={PASSWORD_CREDENTIAL}:{shown}"
        ),
        _ => format!("reading the MQTT password file {shown}: {e}"),
    };
    let file = std::fs::File::open(path).map_err(failed)?;
    let mode = file.metadata().map_err(failed)?.permissions().mode();
    let mut bytes = Vec::new();
    file.take(MAX_PASSWORD_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(failed)?;
    if bytes.len() as u64 > MAX_PASSWORD_FILE {
        return Err(format!(
            "the MQTT password file {shown} is longer than {MAX_PASSWORD_FILE} bytes: not a password"
        ));
    }
    for end in [&b"\r\n"[..], b"\n"] {
        if let Some(rest) = bytes.strip_suffix(end) {
            bytes.truncate(rest.len());
            break;
        }
    }
    if bytes.is_empty() {
        return Err(format!("the MQTT password file {shown} is empty"));
    }
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
