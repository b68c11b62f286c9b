//! The values of `serve`'s options that need more than `FromStr` of a
//! number: where telegrams come from, where to listen, serial settings.

use std::fmt;
use std::net::{Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

use super::{ArgError, ListenError, NetSource};
use crate::line::Framing;
use crate::net::addr::{AddrError, HostPort};

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

impl FromStr for Device {
    type Err = ArgError;
    fn from_str(s: &str) -> Result<Device, ArgError> {
        if let Some(rest) = s.strip_prefix("tcp://") {
            return NetSource::parse(rest).map(Device::Network);
        }
        if s.eq_ignore_ascii_case("demo") {
            return Ok(Device::Demo);
        }
        if s.is_empty() {
            return Err(ArgError::EmptyDevice);
        }
        Ok(Device::Serial(PathBuf::from(s)))
    }
}

/// `--framing`: None for auto.
pub fn parse_framing(s: &str) -> Result<Option<Framing>, ArgError> {
    match s.to_ascii_lowercase().as_str() {
        "auto" => Ok(None),
        "8n1" => Ok(Some(Framing::EightN1)),
        "7e1" => Ok(Some(Framing::SevenE1)),
        _ => Err(ArgError::Framing(s.to_string())),
    }
}

/// One `--listen` address as given: a name may stand for several.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenAddr {
    /// What the user wrote, for messages.
    pub text: String,
    pub addrs: Vec<SocketAddr>,
}

impl FromStr for ListenAddr {
    type Err = ArgError;

    /// `IP:PORT`, `[IPv6]:PORT`, a bare `PORT` (all interfaces), or
    /// `NAME:PORT` looked up now (`localhost:2001`).
    fn from_str(s: &str) -> Result<ListenAddr, ArgError> {
        let found = |addrs: Vec<SocketAddr>| {
            Ok(ListenAddr {
                text: s.to_string(),
                addrs,
            })
        };
        let bad = |error| ArgError::Listen {
            text: s.to_string(),
            error,
        };
        if let Ok(port) = s.parse::<u16>() {
            return found(vec![SocketAddr::from((Ipv6Addr::UNSPECIFIED, port))]);
        }
        if let Ok(addr) = s.parse::<SocketAddr>() {
            return found(vec![addr]);
        }
        let (host, port) = match HostPort::parse(s) {
            Ok(HostPort {
                host,
                port: Some(port),
            }) => (host, port),
            Ok(HostPort { port: None, .. }) if s.parse::<u64>().is_ok() => {
                return Err(bad(ListenError::BareOutOfRange));
            }
            Ok(HostPort { port: None, .. }) => return Err(bad(ListenError::NoPort)),
            Err(AddrError::PortOutOfRange(port)) => {
                return Err(bad(ListenError::PortOutOfRange(port)));
            }
            Err(_) => return Err(bad(ListenError::Form)),
        };
        match std::net::ToSocketAddrs::to_socket_addrs(&(host, port)) {
            Ok(addrs) => {
                let mut addrs: Vec<SocketAddr> = addrs.collect();
                addrs.dedup();
                if addrs.is_empty() {
                    Err(bad(ListenError::NoAddress {
                        host: host.to_string(),
                    }))
                } else {
                    found(addrs)
                }
            }
            Err(error) => Err(bad(ListenError::Lookup {
                host: host.to_string(),
                error,
            })),
        }
    }
}

/// `--baud`: None for auto.
pub fn parse_baud(s: &str) -> Result<Option<u32>, ArgError> {
    if s.eq_ignore_ascii_case("auto") {
        return Ok(None);
    }
    // Every P1 port runs at one of the two DSMR speeds.
    match s.parse::<u32>() {
        Ok(baud @ (9600 | 115_200)) => Ok(Some(baud)),
        _ => Err(ArgError::Baud(s.to_string())),
    }
}

/// A byte count, with K or M.
pub fn parse_size(s: &str) -> Result<usize, ArgError> {
    let (digits, unit) = match s.as_bytes().last() {
        Some(b'k' | b'K') => (&s[..s.len() - 1], 1024),
        Some(b'm' | b'M') => (&s[..s.len() - 1], 1024 * 1024),
        _ => (s, 1),
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .ok_or_else(|| ArgError::Size(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::NetSourceError;

    #[test]
    fn devices() {
        let device = |s: &str| s.parse::<Device>();
        assert_eq!(device("demo").unwrap(), Device::Demo);
        assert_eq!(
            device("/dev/ttyUSB0").unwrap(),
            Device::Serial("/dev/ttyUSB0".into())
        );
        assert!(matches!(device("tcp://esp:23"), Ok(Device::Network(_))));
        assert!(matches!(
            device("tcp://esp"),
            Err(ArgError::NetSource {
                error: NetSourceError::NoPort,
                ..
            })
        ));
        assert!(matches!(device(""), Err(ArgError::EmptyDevice)));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("256K").unwrap(), 262144);
        assert_eq!(parse_size("1m").unwrap(), 1048576);
        assert_eq!(parse_size("9000").unwrap(), 9000);
        assert!(matches!(parse_size("lots"), Err(ArgError::Size(_))));
        assert!(matches!(
            parse_size("99999999999999999999M"),
            Err(ArgError::Size(_))
        ));
    }

    #[test]
    fn listen_addresses() {
        let listen = |s: &str| s.parse::<ListenAddr>();
        assert_eq!(
            listen("23").unwrap().addrs,
            vec!["[::]:23".parse().unwrap()]
        );
        assert_eq!(
            listen("[::1]:2001").unwrap().addrs,
            vec!["[::1]:2001".parse().unwrap()]
        );
        let why = |s: &str| match listen(s) {
            Err(ArgError::Listen { error, .. }) => error,
            other => panic!("{s}: {other:?}"),
        };
        assert!(matches!(why("99999"), ListenError::BareOutOfRange));
        assert!(matches!(why("lan"), ListenError::NoPort));
        assert!(matches!(
            why("127.0.0.1:99999"),
            ListenError::PortOutOfRange(99999)
        ));
        assert!(matches!(why("host:port"), ListenError::Form));
        assert!(matches!(why("[nope]:1"), ListenError::Form));
    }
}
