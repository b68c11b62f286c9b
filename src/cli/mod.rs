//! The command line: what users type, parsed into types.
//!
//! Parsing lives here and validation in [`crate::config`], so that every
//! mistake a user can make on the command line is reported before anything
//! is opened, with exit code 2.

use std::path::PathBuf;

use argh::FromArgs;

// The pipeline's type, parsed here: `cli::Forward` is `config::Forward`.
pub use crate::config::forward::Forward;
use crate::line::Framing;
use crate::net::allow::Cidr;

pub mod error;
pub mod keys;
mod probe;
mod values;
pub use error::{ArgError, ListenError, NetSourceError};
// Parsed here, kept by config: `cli::NetSource` is `config::NetSource`.
pub use crate::config::net_source::NetSource;
pub use probe::ProbeArgs;
pub use values::{Device, ListenAddr, parse_baud, parse_framing, parse_size};

/// The port most P1 gateways and Home Assistant's ser2net example use.
pub const DEFAULT_PORT: u16 = 2001;

#[derive(FromArgs, Debug)]
/// p1mux: one DSMR P1 smart-meter cable, many TCP clients.
///
/// Reads telegrams from the meter's serial port, checks each one (CRC,
/// parity, framing) and sends every clean telegram, whole and unchanged, to
/// all connected TCP clients: Domoticz, Home Assistant, dsmr-reader, nc.
#[argh(help_triggers("-h", "--help"))]
pub struct Cli {
    /// print the version and exit
    #[argh(switch)]
    pub version: bool,

    #[argh(subcommand)]
    pub command: Option<Command>,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
// Parsed once at start: the size of the serve options does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    Serve(ServeArgs),
    Probe(ProbeArgs),
}

#[derive(FromArgs, Debug)]
/// Read a P1 meter and serve its clean telegrams over TCP.
///
/// Try it without a meter: `p1mux serve --demo`, then `nc localhost 2001`.
#[argh(
    subcommand,
    name = "serve",
    help_triggers("-h", "--help"),
    example = "p1mux serve --device /dev/ttyUSB0",
    example = "p1mux serve --device /dev/ttyUSB0 --baud 9600 --framing 7e1",
    example = "p1mux serve --listen 127.0.0.1:2001 --listen [::1]:2001",
    example = "p1mux serve --device tcp://192.168.1.50:23",
    example = "p1mux serve --demo",
    example = "p1mux serve --config /etc/p1mux/p1mux.toml",
    example = "p1mux serve --mqtt mqtt://p1mux@homeassistant.local --mqtt-password-file /etc/p1mux/mqtt-password",
    note = "Logs go to stderr; RUST_LOG (e.g. RUST_LOG=debug) overrides -v.\n\
            Signals: SIGHUP reopens the serial port (or reconnects a tcp:// source),\n\
            SIGUSR1 logs one stats line, SIGTERM/SIGINT exit cleanly."
)]
pub struct ServeArgs {
    /// read options from this file: TOML, or JSON (a Home Assistant
    /// add-on's /data/options.json); each key is a long option's name.
    /// The command line wins over the file (docs/configuration.md)
    #[argh(option, arg_name = "file")]
    pub config: Option<PathBuf>,

    /// serial device of the P1 cable; a symlink such as /dev/serial/by-id/...
    /// is followed again at every reopen (default /dev/ttyUSB0). Or
    /// tcp://HOST:PORT: a meter on the network (ESP dongle, ser2net, another
    /// p1mux), reconnected with backoff. Or demo: the built-in demo meter
    #[argh(option)]
    pub device: Option<Device>,

    /// address to accept clients on, repeatable; ADDR is IP:PORT, [IPv6]:PORT
    /// or a bare PORT (all interfaces). Default [::]:2001 (IPv4 and IPv6),
    /// 0.0.0.0:2001 where IPv6 is off. Port 0 picks a free port.
    #[argh(option, arg_name = "addr")]
    pub listen: Vec<ListenAddr>,

    /// serial speed: auto (default: found from the bytes), 115200 for
    /// DSMR 4/5, or 9600 for DSMR 2.2/3.0
    #[argh(option, default = "None", from_str_fn(baud_arg))]
    pub baud: Option<u32>,

    /// serial framing: auto (default), 8n1 or 7e1; with a fixed --baud,
    /// auto means 7e1 at 9600 and 8n1 otherwise
    #[argh(option, default = "None", from_str_fn(framing_arg))]
    pub framing: Option<Framing>,

    /// what to send: valid (telegrams that pass every check, default), all
    /// (every complete telegram, failed CRC included) or raw (the bytes as read)
    #[argh(option, default = "Forward::Valid")]
    pub forward: Forward,

    /// only accept clients from this address block, e.g. 192.168.1.0/24,
    /// fd00::/8 or one address; repeatable (default: everyone)
    #[argh(option, arg_name = "cidr")]
    pub allow: Vec<Cidr>,

    /// most clients served at once; more are closed on connect (default 64)
    #[argh(option, default = "64")]
    pub max_clients: usize,

    /// bytes queued per client before its oldest unsent telegrams are
    /// dropped; suffixes K and M allowed (default 256K)
    #[argh(
        option,
        arg_name = "bytes",
        default = "256 * 1024",
        from_str_fn(size_arg)
    )]
    pub client_buffer: usize,

    /// do not send a new client the last telegram (if under 15 s old) on connect
    #[argh(switch)]
    pub no_replay: bool,

    /// file holding the key of an encrypted meter (Luxembourg, Austria): 32
    /// hex digits from the grid operator. p1mux then decrypts its frames
    /// for every client; without a key it passes them through whole.
    /// Default: $CREDENTIALS_DIRECTORY/p1mux-key (systemd LoadCredential=)
    #[argh(option, arg_name = "path")]
    pub key_file: Option<PathBuf>,

    /// file holding the meter's authentication key, if the grid operator
    /// gives one (default: the public Smarty one, or
    /// $CREDENTIALS_DIRECTORY/p1mux-auth-key)
    #[argh(option, arg_name = "path")]
    pub auth_key_file: Option<PathBuf>,

    /// no serial port: a built-in meter sends a telegram every second
    /// (the same as --device demo)
    #[argh(switch)]
    pub demo: bool,

    /// more log detail: -v debug (every reject), -vv trace
    #[argh(switch, short = 'v')]
    pub verbose: u8,

    // MQTT publishing (src/mqtt/config.rs validates these).
    /// publish every telegram and its values to an MQTT broker:
    /// mqtt://[USER@]HOST[:PORT] (port 1883) or mqtts://... (TLS, port 8883);
    /// in a Home Assistant add-on, homeassistant: its broker and login
    /// from the Supervisor
    #[argh(option, arg_name = "url")]
    pub mqtt: Option<String>,

    /// file holding the MQTT password (default: the systemd credential
    /// p1mux-mqtt-password, if there is one); never give it on the command line
    #[argh(option, arg_name = "file")]
    pub mqtt_password_file: Option<PathBuf>,

    /// CA certificate(s), PEM, to trust for mqtts:// instead of the system's
    #[argh(option, arg_name = "file")]
    pub mqtt_ca: Option<PathBuf>,

    /// first topic level (default p1mux): PREFIX/ID/state, PREFIX/ID/telegram
    #[argh(option, arg_name = "prefix")]
    pub mqtt_topic: Option<String>,

    /// the meter's name in topics (default: its equipment id)
    #[argh(option, arg_name = "id")]
    pub mqtt_id: Option<String>,

    /// quality of service: 0 (default), or 1: acknowledged, and resent after
    /// a reconnect
    #[argh(option, arg_name = "qos")]
    pub mqtt_qos: Option<u8>,

    /// the discovery prefix Home Assistant listens on (default homeassistant)
    #[argh(option, arg_name = "prefix")]
    pub mqtt_discovery_prefix: Option<String>,

    /// do not announce the meter to Home Assistant
    #[argh(switch)]
    pub no_mqtt_discovery: bool,

    /// publish at most one telegram per SECONDS (default 0: every one)
    #[argh(option, arg_name = "seconds")]
    pub mqtt_interval: Option<u64>,
    /// serve the status page, JSON API, events and /metrics on this
    /// address, repeatable; ADDR as for --listen (a bare PORT is all
    /// interfaces). Off unless given; the demo serves 127.0.0.1:8080.
    /// --allow applies to it too
    #[argh(option, arg_name = "addr")]
    pub http: Vec<ListenAddr>,

    /// announce the HTTP output on the local network over mDNS, as a
    /// HomeWizard P1 meter (_hwenergy._tcp, which Home Assistant
    /// discovers) and a web page (_http._tcp); needs --http
    #[argh(switch)]
    pub mdns: bool,
}

// argh takes `fn(&str) -> Result<T, String>` for values without FromStr.
fn baud_arg(s: &str) -> Result<Option<u32>, String> {
    parse_baud(s).map_err(|e| e.to_string())
}

fn framing_arg(s: &str) -> Result<Option<Framing>, String> {
    parse_framing(s).map_err(|e| e.to_string())
}

fn size_arg(s: &str) -> Result<usize, String> {
    parse_size(s).map_err(|e| e.to_string())
}
