//! `tcp://HOST:PORT`: where a network meter is. A leaf, so that the
//! command line that parses it and the source that connects to it share it.

use std::fmt;

use crate::cli::error::{ArgError, NetSourceError};
use crate::net::addr::{AddrError, HostPort};

/// Where a network meter is, as given after `tcp://`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetSource {
    /// A host name or an IP address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
}

impl NetSource {
    /// Parses `HOST:PORT` or `[IPv6]:PORT`, the part after `tcp://`.
    pub fn parse(s: &str) -> Result<NetSource, ArgError> {
        let bad = |error| ArgError::NetSource {
            text: s.to_string(),
            error,
        };
        let split = HostPort::parse(s).map_err(|e| bad(NetSourceError::Addr(e)))?;
        match split.port {
            None => Err(bad(NetSourceError::NoPort)),
            Some(0) => Err(bad(NetSourceError::Addr(AddrError::PortOutOfRange(0)))),
            Some(port) => Ok(NetSource {
                host: split.host.to_string(),
                port,
            }),
        }
    }
}

impl fmt::Display for NetSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "tcp://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "tcp://{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_and_addresses() {
        let ok = |s: &str| NetSource::parse(s).unwrap();
        assert_eq!(
            ok("192.168.1.50:23"),
            NetSource {
                host: "192.168.1.50".into(),
                port: 23
            }
        );
        assert_eq!(ok("p1dongle.local:8088").host, "p1dongle.local");
        assert_eq!(ok("[fd00::5]:2001").host, "fd00::5");
        assert_eq!(ok("[fd00::5]:2001").to_string(), "tcp://[fd00::5]:2001");
        assert_eq!(ok("esp:23").to_string(), "tcp://esp:23");
        for bad in [
            "192.168.1.50",
            ":23",
            "host:0",
            "host:70000",
            "host:port",
            "fd00::5:23",
            "[fd00::5]23",
            "[nonsense]:23",
            "host:23/p1",
            "host/x:23",
        ] {
            let err = NetSource::parse(bad).unwrap_err();
            assert!(matches!(err, ArgError::NetSource { .. }), "{bad}: {err}");
            assert!(err.to_string().contains("tcp://HOST:PORT"), "{bad}: {err}");
        }
    }
}
