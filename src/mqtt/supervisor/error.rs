//! Why `--mqtt homeassistant` found no broker: each says what to do instead,
//! and never the token or the password.

use std::fmt;

use super::super::config::MqttConfigError;
use super::{TOKEN_VAR, URL_VAR};

/// Why the Supervisor gave p1mux no broker it can use.
#[derive(Debug, PartialEq, Eq)]
pub enum SupervisorError {
    /// No `$SUPERVISOR_TOKEN`: not inside a Home Assistant add-on.
    NoToken,
    /// `$SUPERVISOR_TOKEN` is empty, or holds what cannot go in a header.
    BadToken,
    /// `$P1MUX_SUPERVISOR_URL` (for tests) is not `http://HOST[:PORT]`.
    BadUrl(String),
    /// No answer: connecting, sending or reading failed, each retry too.
    Unreachable { url: String, why: String },
    /// An answer that is not the Supervisor's JSON.
    BadAnswer { why: String },
    /// The Supervisor knows no MQTT broker (no Mosquitto add-on).
    NoService { message: String },
    /// The Supervisor refused: a token it does not take, or an add-on
    /// without `services: [mqtt:want]`.
    Refused { status: u16, message: String },
    /// The broker named does not make MQTT settings p1mux can use.
    Unusable(MqttConfigError),
}

impl fmt::Display for SupervisorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let instead = "or give --mqtt mqtt://[USER@]HOST for a broker of your own";
        match self {
            SupervisorError::NoToken => write!(
                f,
                "--mqtt homeassistant works only inside a Home Assistant add-on (there is no \
                 ${TOKEN_VAR} to ask the Supervisor with): run p1mux as the add-on, {instead}"
            ),
            SupervisorError::BadToken => write!(
                f,
                "--mqtt homeassistant: ${TOKEN_VAR} is empty or not a token; it works only \
                 inside a Home Assistant add-on, as the Supervisor sets it: {instead}"
            ),
            SupervisorError::BadUrl(url) => write!(
                f,
                "${URL_VAR} '{url}' is not http://HOST[:PORT]; it is for tests only: unset it"
            ),
            SupervisorError::Unreachable { url, why } => write!(
                f,
                "--mqtt homeassistant: the Supervisor at {url} did not answer ({why}); it \
                 starts add-ons only once it is up, so restart the add-on, {instead}"
            ),
            SupervisorError::BadAnswer { why } => write!(
                f,
                "--mqtt homeassistant: the Supervisor's answer about the MQTT service is not \
                 what it should be ({why}); restart the add-on, {instead}"
            ),
            SupervisorError::NoService { message } => write!(
                f,
                "--mqtt homeassistant: Home Assistant has no MQTT broker (the Supervisor \
                 says: {message}): install the Mosquitto broker add-on (Settings > Add-ons > \
                 Add-on store) and start it, {instead}"
            ),
            SupervisorError::Refused { status, message } => write!(
                f,
                "--mqtt homeassistant: the Supervisor refused to name the MQTT broker \
                 (HTTP {status}: {message}); the add-on's config.yaml must declare \
                 `services: [mqtt:want]`: update or reinstall the add-on, {instead}"
            ),
            SupervisorError::Unusable(e) => write!(
                f,
                "--mqtt homeassistant: the broker the Supervisor names cannot be used: {e}"
            ),
        }
    }
}

impl std::error::Error for SupervisorError {}
