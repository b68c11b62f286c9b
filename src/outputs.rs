//! The list of outputs: each one built from the config, in the order
//! telegrams are delivered to them. A new output is a folder in `src/`
//! implementing [`Output`] and one line in [`LIST`]; it gets its own range
//! of poll tokens, and the loop routes readiness, time and telegrams to it
//! without knowing what it is.

use crate::config::Config;
use crate::error::StartError;
use crate::mqtt::MqttOutput;
use crate::mqtt::config::MqttSetup;
use crate::mqtt::supervisor;
use crate::output::{Context, Output, TOKENS_PER_OUTPUT};
use crate::{http, hub, mdns};

/// Builds one output from the config, with its tokens from `first_token`;
/// None when the config does not ask for it.
pub type Build = fn(&Config, &Context, usize) -> Result<Option<Box<dyn Output>>, StartError>;

/// Every output. The raw clients come first: their one write per telegram
/// goes out before any other output parses or formats anything.
pub const LIST: &[Build] = &[hub::build, mqtt, http::build, mdns::build];

/// [`MqttOutput`]'s [`Build`] (its folder is being reshaped apart).
fn mqtt(
    config: &Config,
    cx: &Context,
    first: usize,
) -> Result<Option<Box<dyn Output>>, StartError> {
    let mqtt = match &config.mqtt {
        None => return Ok(None),
        Some(MqttSetup::Ready(mqtt)) => mqtt.clone(),
        // Normally asked already, in [`prepare`].
        Some(MqttSetup::FromSupervisor(options)) => supervisor::broker(options)?,
    };
    let output = MqttOutput::new(mqtt, cx.registry, first, cx.now)?;
    Ok(Some(Box::new(output)))
}

/// What outputs must learn before anything is opened: the broker of
/// `--mqtt homeassistant`, asked of the Supervisor (blocking, bounded; at
/// start only). Runs before the signal handlers, so that a SIGTERM while
/// it waits still ends p1mux.
pub fn prepare(config: &mut Config) -> Result<(), StartError> {
    if let Some(MqttSetup::FromSupervisor(options)) = &config.mqtt {
        config.mqtt = Some(MqttSetup::Ready(supervisor::broker(options)?));
    }
    Ok(())
}

/// Builds every output [`LIST`] has that the config asks for; output `i`
/// gets the tokens from `first_token + i * TOKENS_PER_OUTPUT`.
pub fn build(
    config: &Config,
    cx: &Context,
    first_token: usize,
) -> Result<Vec<Box<dyn Output>>, StartError> {
    let mut outputs = Vec::new();
    for build in LIST {
        let first = first_token + outputs.len() * TOKENS_PER_OUTPUT;
        if let Some(output) = build(config, cx, first)? {
            outputs.push(output);
        }
    }
    Ok(outputs)
}
