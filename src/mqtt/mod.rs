//! MQTT: every telegram and its values, published to a broker, for Home
//! Assistant, Node-RED, Telegraf and fleets of meters.
//!
//! One output in the same single-threaded loop as the raw TCP clients,
//! which it can never slow down: it never waits for the broker, and what
//! the broker does not take at once waits in a bounded queue that keeps
//! the newest telegrams ([`queue`]).
//!
//! - [`codec`]: the MQTT 3.1.1 packets p1mux sends and receives (pure).
//! - [`session`]: the protocol state machine: CONNECT/CONNACK, QoS 1
//!   acknowledgements and resends, keep-alive (pure, sans-I/O).
//! - [`link`]: name lookup, connect, backoff; [`transport`]: TCP or TLS.
//! - [`topics`] and [`discovery`]: what is published where, and the Home
//!   Assistant device config (pure).
//! - [`output`]: [`MqttOutput`], the [`crate::output::Output`] that ties
//!   them together.
//! - [`config`]: the `--mqtt*` options, validated.

pub mod codec;
pub mod config;
pub mod discovery;
pub mod link;
pub mod output;
pub mod queue;
pub mod session;
pub mod topics;
pub mod transport;

pub use config::MqttConfig;
pub use output::MqttOutput;
