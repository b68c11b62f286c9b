//! MQTT: every telegram and its values, published to a broker, for Home
//! Assistant, Node-RED, Telegraf and fleets of meters.
//!
//! One output in the same single-threaded loop as the raw TCP clients,
//! which it can never slow down: it never waits for the broker, and what
//! the broker does not take at once waits in a bounded queue that keeps
//! the newest telegrams ([`queue`]).
//!
//! - [`codec`]: the MQTT 3.1.1 packets p1mux sends and receives (pure).
//! - [`session`]: the protocol state machine: CONNACK, QoS 1
//!   acknowledgements ([`inflight`]) and resends, keep-alive, every queue
//!   bounded (pure, sans-I/O); [`outcome`]: what it reports.
//! - [`meter`]: the meter's identity: its topics ([`topics`]), what each
//!   telegram publishes, its availability and the Home Assistant device
//!   config ([`discovery`]), re-announced at most once per interval (pure).
//! - [`client`]: drives the connection: CONNECT with the meter's will,
//!   reads within a budget, writes, fails and reconnects; [`link`]: name
//!   lookup, connect, backoff; [`transport`]: TCP or TLS.
//! - [`output`]: [`MqttOutput`], the [`crate::output::Output`] that hands
//!   telegrams to the meter and what it makes to the client.
//! - [`config`]: the `--mqtt*` options, validated; [`supervisor`]: the
//!   broker of `--mqtt homeassistant`, asked of Home Assistant's Supervisor
//!   once at start.

pub mod client;
pub mod codec;
pub mod config;
pub mod discovery;
pub mod inflight;
pub mod link;
pub mod meter;
pub mod outcome;
pub mod output;
pub mod queue;
pub mod session;
pub mod supervisor;
pub mod topics;
pub mod transport;

pub use config::MqttConfig;
pub use output::MqttOutput;
