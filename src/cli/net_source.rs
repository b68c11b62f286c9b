//! `tcp://HOST:PORT`: where a network meter is.

use std::fmt;

/// Where a network meter is, as given after `tcp://`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetSource {
    /// A host name or an IP address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
}

impl NetSource {
    /// Parses `HOST:PORT` or `[IPv6]:PORT`, the part after `tcp://`.
    pub fn parse(s: &str) -> Result<NetSource, String> {
        let bad = |why: &str| {
            format!(
                "bad network source 'tcp://{s}': {why}; use tcp://HOST:PORT, e.g. tcp://192.168.1.50:23"
            )
        };
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(|| bad("no ']'"))?;
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(bad("not an IPv6 address between [ and ]"));
            }
            let port = after.strip_prefix(':').ok_or_else(|| bad("no port"))?;
            (host, port)
        } else {
            s.rsplit_once(':').ok_or_else(|| bad("no port"))?
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let bracketed = s.starts_with('[');
        if !bracketed && (host.contains(['/', ':', '[', ']']) || host.contains(char::is_whitespace))
        {
            return Err(bad("not a host name or address"));
        }
        match port.parse::<u16>() {
            Ok(0) | Err(_) => Err(bad("the port must be a number from 1 to 65535")),
            Ok(port) => Ok(NetSource {
                host: host.to_string(),
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
            assert!(err.contains("tcp://HOST:PORT"), "{bad}: {err}");
        }
    }
}
