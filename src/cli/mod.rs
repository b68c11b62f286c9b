//! The command line: what users type, parsed into types.
//!
//! Parsing lives here and validation in [`crate::config`], so that every
//! mistake a user can make on the command line is reported before anything
//! is opened, with exit code 2.

use std::fmt;
use std::net::{Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

use argh::FromArgs;

use crate::line::Framing;
use crate::net::allow::Cidr;

mod net_source;
mod probe;
pub use net_source::NetSource;
pub use probe::ProbeArgs;

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
    example = "p1mux serve --mqtt mqtt://p1mux@homeassistant.local --mqtt-password-file /etc/p1mux/mqtt-password",
    note = "Logs go to stderr; RUST_LOG (e.g. RUST_LOG=debug) overrides -v.\n\
            Signals: SIGHUP reopens the serial port (or reconnects a tcp:// source),\n\
            SIGUSR1 logs one stats line, SIGTERM/SIGINT exit cleanly."
)]
pub struct ServeArgs {
    /// serial device of the P1 cable; a symlink such as /dev/serial/by-id/...
    /// is followed again at every reopen (default /dev/ttyUSB0). Or
    /// tcp://HOST:PORT: a meter on the network (ESP dongle, ser2net, another
    /// p1mux), reconnected with backoff. Or demo: the built-in demo meter
    #[argh(option, from_str_fn(parse_device))]
    pub device: Option<Device>,

    /// address to accept clients on, repeatable; ADDR is IP:PORT, [IPv6]:PORT
    /// or a bare PORT (all interfaces). Default [::]:2001 (IPv4 and IPv6),
    /// 0.0.0.0:2001 where IPv6 is off. Port 0 picks a free port.
    #[argh(option, arg_name = "addr", from_str_fn(parse_listen))]
    pub listen: Vec<ListenAddr>,

    /// serial speed: auto (default: found from the bytes), 115200 for
    /// DSMR 4/5, or 9600 for DSMR 2.2/3.0
    #[argh(option, default = "None", from_str_fn(parse_baud))]
    pub baud: Option<u32>,

    /// serial framing: auto (default), 8n1 or 7e1; with a fixed --baud,
    /// auto means 7e1 at 9600 and 8n1 otherwise
    #[argh(option, default = "None", from_str_fn(parse_framing))]
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
        from_str_fn(parse_size)
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
    /// mqtt://[USER@]HOST[:PORT] (port 1883) or mqtts://... (TLS, port 8883)
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
    #[argh(option, arg_name = "addr", from_str_fn(parse_listen))]
    pub http: Vec<ListenAddr>,

    /// announce the HTTP output on the local network over mDNS, as a
    /// HomeWizard P1 meter (_hwenergy._tcp, which Home Assistant
    /// discovers) and a web page (_http._tcp); needs --http
    #[argh(switch)]
    pub mdns: bool,
}

/// What is sent to clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forward {
    /// Only telegrams that passed every check.
    Valid,
    /// Every complete telegram, including those with a wrong CRC.
    All,
    /// The bytes exactly as read from the port, telegram-unaware.
    Raw,
}

impl FromStr for Forward {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "valid" => Ok(Forward::Valid),
            "all" => Ok(Forward::All),
            "raw" => Ok(Forward::Raw),
            _ => Err(format!("unknown forward mode '{s}': use valid, all or raw")),
        }
    }
}

/// Where telegrams come from, as given to `--device`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Device {
    /// A serial port (or a symlink to one).
    Serial(PathBuf),
    /// A meter on the network (`tcp://HOST:PORT`): an ESP dongle, ser2net
    /// or another p1mux, whose bytes are already decoded.
    Network(NetSource),
    /// The built-in demo meter.
    Demo,
}

impl Device {
    /// What `--device` means when it is not given.
    pub fn default_serial() -> Device {
        Device::Serial(PathBuf::from("/dev/ttyUSB0"))
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Serial(path) => write!(f, "{}", path.display()),
            Device::Network(source) => write!(f, "{source}"),
            Device::Demo => f.write_str("demo"),
        }
    }
}

fn parse_device(s: &str) -> Result<Device, String> {
    if let Some(rest) = s.strip_prefix("tcp://") {
        return NetSource::parse(rest).map(Device::Network);
    }
    if s.eq_ignore_ascii_case("demo") {
        return Ok(Device::Demo);
    }
    if s.is_empty() {
        return Err("--device is empty: give a serial device such as /dev/ttyUSB0".into());
    }
    Ok(Device::Serial(PathBuf::from(s)))
}

fn parse_framing(s: &str) -> Result<Option<Framing>, String> {
    match s.to_ascii_lowercase().as_str() {
        "auto" => Ok(None),
        "8n1" => Ok(Some(Framing::EightN1)),
        "7e1" => Ok(Some(Framing::SevenE1)),
        _ => Err(format!("unknown framing '{s}': use auto, 8n1 or 7e1")),
    }
}

/// One `--listen` address as given: a name may stand for several.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenAddr {
    /// What the user wrote, for messages.
    pub text: String,
    pub addrs: Vec<SocketAddr>,
}

/// `IP:PORT`, `[IPv6]:PORT`, a bare `PORT` (all interfaces), or
/// `NAME:PORT` looked up now (`localhost:2001`).
pub fn parse_listen(s: &str) -> Result<ListenAddr, String> {
    let usage = "use IP:PORT, [IPv6]:PORT, NAME:PORT or PORT, e.g. 0.0.0.0:2001";
    let found = |addrs: Vec<SocketAddr>| {
        Ok(ListenAddr {
            text: s.to_string(),
            addrs,
        })
    };
    if let Ok(port) = s.parse::<u16>() {
        return found(vec![SocketAddr::from((Ipv6Addr::UNSPECIFIED, port))]);
    }
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return found(vec![addr]);
    }
    let Some((host, port)) = s.rsplit_once(':') else {
        return match s.parse::<u64>() {
            Ok(_) => Err(format!(
                "bad listen address '{s}': the port is out of range (0-65535)"
            )),
            Err(_) => Err(format!("bad listen address '{s}': no port; {usage}")),
        };
    };
    let port = match port.parse::<u64>() {
        Ok(port) if port <= 65535 => port as u16,
        Ok(_) => {
            return Err(format!(
                "bad listen address '{s}': port {port} is out of range (0-65535; 0 picks a free one)"
            ));
        }
        Err(_) => return Err(format!("bad listen address '{s}': {usage}")),
    };
    if host.is_empty() || host.contains(['[', ']']) {
        return Err(format!("bad listen address '{s}': {usage}"));
    }
    match std::net::ToSocketAddrs::to_socket_addrs(&(host, port)) {
        Ok(addrs) => {
            let mut addrs: Vec<SocketAddr> = addrs.collect();
            addrs.dedup();
            if addrs.is_empty() {
                Err(format!("bad listen address '{s}': {host} has no address"))
            } else {
                found(addrs)
            }
        }
        Err(e) => Err(format!(
            "bad listen address '{s}': looking up {host}: {e}; {usage}"
        )),
    }
}

fn parse_baud(s: &str) -> Result<Option<u32>, String> {
    if s.eq_ignore_ascii_case("auto") {
        return Ok(None);
    }
    // Every P1 port runs at one of the two DSMR speeds.
    match s.parse::<u32>() {
        Ok(baud @ (9600 | 115_200)) => Ok(Some(baud)),
        _ => Err(format!(
            "bad baud rate '{s}': use auto, 115200 (DSMR 4/5) or 9600 (DSMR 2.2/3.0)"
        )),
    }
}

fn parse_size(s: &str) -> Result<usize, String> {
    let err = || format!("bad size '{s}': use bytes, or a number with K or M, e.g. 256K");
    let (digits, unit) = match s.as_bytes().last() {
        Some(b'k' | b'K') => (&s[..s.len() - 1], 1024),
        Some(b'm' | b'M') => (&s[..s.len() - 1], 1024 * 1024),
        _ => (s, 1),
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .ok_or_else(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices() {
        assert_eq!(parse_device("demo"), Ok(Device::Demo));
        assert_eq!(
            parse_device("/dev/ttyUSB0"),
            Ok(Device::Serial("/dev/ttyUSB0".into()))
        );
        assert!(matches!(
            parse_device("tcp://esp:23"),
            Ok(Device::Network(_))
        ));
        assert!(parse_device("tcp://esp").is_err());
        assert!(parse_device("").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("256K"), Ok(262144));
        assert_eq!(parse_size("1m"), Ok(1048576));
        assert_eq!(parse_size("9000"), Ok(9000));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999999999999M").is_err());
    }
}
