//! `--mqtt homeassistant`: Home Assistant's own broker, asked of the
//! Supervisor, so that an add-on user types no broker and no password.
//!
//! Inside an add-on the Supervisor sets `$SUPERVISOR_TOKEN`, and
//! `GET http://supervisor/services/mqtt` (allowed to an add-on whose
//! config.yaml declares `services: [mqtt:want]`) answers
//! `{"result": "ok", "data": {"host", "port", "ssl", "username",
//! "password", "protocol", "addon"}}`, or `{"result": "error", "message":
//! "Service not enabled"}` (HTTP 400) when no add-on (Mosquitto) provides
//! MQTT. p1mux asks once, at start, before anything is opened, and then runs
//! exactly as with `--mqtt mqtt[s]://USER@HOST:PORT` and that password
//! (kept in memory, never logged). A broker that is down later is the MQTT
//! output's usual outage; the Supervisor is not asked again.
//!
//! The Supervisor starts add-ons once it is up itself, so an answer is
//! normally there at once; one that does not come is retried for
//! [`PATIENCE`] with the broker's backoff, then p1mux fails to start and
//! says why (the add-on's watchdog, or the user, starts it again).

use std::time::{Duration, Instant};

use log::{debug, info, warn};

use super::config::{MqttConfig, MqttOptions, Password};
use crate::config::entry::{Entry, Value};
use crate::config::json;
use crate::outage::BROKER_BACKOFF;

mod error;
mod http;
pub use error::SupervisorError;

/// The Supervisor's token, in every add-on's environment.
pub const TOKEN_VAR: &str = "SUPERVISOR_TOKEN";
/// For tests only: the Supervisor's base URL, `http://HOST[:PORT]`,
/// instead of `http://supervisor`.
pub const URL_VAR: &str = "P1MUX_SUPERVISOR_URL";
const DEFAULT_URL: &str = "http://supervisor";
const PATH: &str = "/services/mqtt";
/// Each step (connect, send, read) of one request, at most.
const TIMEOUT: Duration = Duration::from_secs(5);
/// How long a Supervisor that does not answer is tried again.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// What the Supervisor says the broker is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub host: String,
    pub port: u16,
    pub ssl: bool,
    pub username: Option<String>,
    pub password: Option<Password>,
}

impl Answer {
    /// The `--mqtt` URL this answer stands for: `mqtt[s]://[USER@]HOST:PORT`.
    pub fn url(&self) -> String {
        let scheme = if self.ssl { "mqtts" } else { "mqtt" };
        let user = self
            .username
            .as_deref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{scheme}://{user}{host}:{}", self.port)
    }

    /// The MQTT settings: `options` with this broker and its password, as
    /// if given as `--mqtt URL` and `mqtt-password`. A password without a
    /// user is left out: MQTT 3.1.1 sends none without a user name.
    pub fn config(&self, options: &MqttOptions) -> Result<MqttConfig, SupervisorError> {
        let given = MqttOptions {
            url: Some(self.url()),
            password: self.password.clone().filter(|_| self.username.is_some()),
            password_file: None,
            ..options.clone()
        };
        match MqttConfig::from_options_with(&given, None) {
            Ok(Some(config)) => Ok(config),
            Ok(None) => Err(SupervisorError::BadAnswer {
                why: "no broker".into(),
            }),
            Err(e) => Err(SupervisorError::Unusable(e)),
        }
    }
}

/// Asks the Supervisor for its broker and returns the settings to publish
/// with. Blocks: at start only, at most some [`PATIENCE`].
pub fn broker(options: &MqttOptions) -> Result<MqttConfig, SupervisorError> {
    let token = std::env::var(TOKEN_VAR).ok();
    let url = std::env::var(URL_VAR).ok();
    broker_with(options, token.as_deref(), url.as_deref(), PATIENCE)
}

/// [`broker`] with its environment given.
pub fn broker_with(
    options: &MqttOptions,
    token: Option<&str>,
    url: Option<&str>,
    patience: Duration,
) -> Result<MqttConfig, SupervisorError> {
    let token = token.ok_or(SupervisorError::NoToken)?;
    // It goes into a header line: visible ASCII only.
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(SupervisorError::BadToken);
    }
    let url = url.unwrap_or(DEFAULT_URL);
    let base = http::Base::parse(url).ok_or_else(|| SupervisorError::BadUrl(url.into()))?;
    let started = Instant::now();
    let mut wait = BROKER_BACKOFF.first;
    let response = loop {
        match http::get(&base, PATH, token, TIMEOUT) {
            Ok(response) => break response,
            Err(why) => {
                let left = patience.saturating_sub(started.elapsed());
                if left.is_zero() {
                    return Err(SupervisorError::Unreachable {
                        url: url.into(),
                        why,
                    });
                }
                if wait == BROKER_BACKOFF.first {
                    warn!(
                        "mqtt: the Supervisor at {url} does not answer ({why}); asking again \
                         for up to {} s",
                        patience.as_secs()
                    );
                } else {
                    debug!("mqtt: the Supervisor at {url} does not answer ({why})");
                }
                std::thread::sleep(wait.min(left));
                wait = (wait * 2).min(BROKER_BACKOFF.max);
            }
        }
    };
    let answer = parse_answer(response.status, &response.body)?;
    let config = answer.config(options)?;
    info!(
        "mqtt: Home Assistant's broker, from the Supervisor: {}",
        config.broker.with_user()
    );
    Ok(config)
}

/// The Supervisor's answer to `GET /services/mqtt`: the broker, or why not.
pub fn parse_answer(status: u16, body: &[u8]) -> Result<Answer, SupervisorError> {
    let bad = |why: &str| SupervisorError::BadAnswer { why: why.into() };
    let entries = std::str::from_utf8(body)
        .ok()
        .and_then(|text| json::parse(text).ok());
    let text = |entries: &[Entry], key: &str| match find(entries, key) {
        Some(Value::Text(s)) => Some(s.clone()),
        _ => None,
    };
    if status != 200 {
        let message = entries
            .as_deref()
            .and_then(|e| text(e, "message"))
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| format!("HTTP {status}"));
        return Err(match status {
            400 | 404 => SupervisorError::NoService { message },
            401 | 403 => SupervisorError::Refused { status, message },
            _ => SupervisorError::BadAnswer {
                why: format!("HTTP {status}: {message}"),
            },
        });
    }
    let entries = entries.ok_or_else(|| bad("not a JSON object"))?;
    if text(&entries, "result").as_deref() != Some("ok") {
        let message = text(&entries, "message").unwrap_or_else(|| "no result \"ok\"".into());
        return Err(bad(&message));
    }
    let data = match find(&entries, "data") {
        Some(Value::Table(data)) => data,
        Some(Value::Null) | None => {
            return Err(SupervisorError::NoService {
                message: "no data".into(),
            });
        }
        Some(_) => return Err(bad("\"data\" is not an object")),
    };
    let host = text(data, "host")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("no \"host\""))?;
    let port = match find(data, "port") {
        Some(Value::Number(n)) => u16::try_from(*n).ok().filter(|&p| p != 0),
        Some(Value::Text(s)) => s.parse().ok().filter(|&p: &u16| p != 0),
        _ => None,
    }
    .ok_or_else(|| bad("no \"port\" from 1 to 65535"))?;
    let ssl = match find(data, "ssl") {
        Some(Value::Bool(ssl)) => *ssl,
        Some(Value::Null) | None => false,
        Some(_) => return Err(bad("\"ssl\" is not true or false")),
    };
    let username = text(data, "username").filter(|u| !u.is_empty());
    let password = text(data, "password")
        .filter(|p| !p.is_empty())
        .map(|p| Password(p.into_bytes()));
    Ok(Answer {
        host,
        port,
        ssl,
        username,
        password,
    })
}

fn find<'a>(entries: &'a [Entry], key: &str) -> Option<&'a Value> {
    entries.iter().find(|e| e.key == key).map(|e| &e.value)
}

#[cfg(test)]
#[path = "supervisor_tests.rs"]
mod tests;
