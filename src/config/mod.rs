//! The validated settings `serve` runs with.
//!
//! [`Config::from_args`] checks everything that can be checked before
//! anything is opened, so that a mistake on the command line or in the
//! config file ([`file`]) is a usage error (exit 2) with a message that
//! says what to write instead. Past this module no command-line type is
//! seen: the rest of p1mux takes a [`Config`].

use std::net::SocketAddr;
use std::path::PathBuf;

mod announce;
mod command;
pub mod entry;
mod error;
pub mod file;
pub mod forward;
pub mod json;
pub mod net_source;
mod validate;

pub use announce::MdnsConfig;
pub use command::{Parsed, Usage, UsageError, parse};
pub use error::{ConfigError, FileError, FileErrorKind};
pub use forward::Forward;
pub use validate::listen_addresses;

use crate::encrypted::Key;
use crate::line::Setting;
use crate::mqtt::config::MqttSetup;
use crate::net::allow::Cidr;
pub use net_source::NetSource;

/// Where telegrams come from, with what it takes to read them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceConfig {
    Serial {
        device: PathBuf,
        /// One setting, or several to auto-detect from, in order.
        settings: Vec<Setting>,
    },
    /// A meter on the network (`--device tcp://HOST:PORT`).
    Network(NetSource),
    Demo,
}

/// Where the status page, API and metrics are served (`--http`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpConfig {
    pub addrs: Vec<SocketAddr>,
    /// The demo's default page: when it cannot bind (the port is taken),
    /// the demo starts without it and says so, rather than failing.
    pub optional: bool,
}

/// The demo's status page, when no --http is given: loopback only.
pub const DEMO_HTTP: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);

/// Settings for one run of `serve`, validated.
#[derive(Clone, Debug)]
pub struct Config {
    pub source: SourceConfig,
    /// Addresses to listen on; never empty.
    pub listen: Vec<SocketAddr>,
    pub forward: Forward,
    /// Client address blocks allowed to connect; empty allows everyone.
    pub allow: Vec<Cidr>,
    pub max_clients: usize,
    /// Per-client queue bound in bytes; at least one maximal telegram.
    pub client_buffer: usize,
    /// Send the last telegram to a new client.
    pub replay: bool,
    /// Where the keys of an encrypted meter are, if given.
    pub keys: KeyFiles,
    /// Publish to an MQTT broker (`--mqtt`).
    pub mqtt: Option<MqttSetup>,
    /// The HTTP output; None when off.
    pub http: Option<HttpConfig>,
    /// Announce the HTTP output over mDNS (`--mdns`); None when off.
    pub mdns: Option<MdnsConfig>,
}

/// `--key-file` and `--auth-key-file`, as given: the files are read at
/// start-up ([`KeyFiles::load`], which also looks in
/// `$CREDENTIALS_DIRECTORY`); or the key itself, from a config file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyFiles {
    pub key_file: Option<PathBuf>,
    pub auth_key_file: Option<PathBuf>,
    /// `key` in the config file at this path.
    pub key: Option<(Key, PathBuf)>,
}

#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod tests_file;
