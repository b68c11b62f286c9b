//! `HOST:PORT`, `[IPv6]:PORT` and `HOST`: the one place an address the user
//! wrote is split into a host and a port (`--listen`, `--http`,
//! `--device tcp://...`, `--mqtt mqtt://...`). Each caller says what a
//! missing port means and words the message for its own option.

use std::fmt;
use std::net::Ipv6Addr;

/// An address as written, split: the host (IPv6 without brackets) and the
/// port, if one was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostPort<'a> {
    pub host: &'a str,
    pub port: Option<u16>,
}

/// Why text is not `HOST[:PORT]`; the caller adds what to write instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddrError {
    /// `[` without `]`.
    NoBracket,
    /// Between `[` and `]` is no IPv6 address.
    NotIpv6,
    /// Something other than `:PORT` after `]`.
    JunkAfterBracket,
    NoHost,
    /// A host with `/`, `:`, brackets or white space in it.
    NotHost,
    /// The port is not a number (as written).
    PortNotNumber(String),
    /// The port is a number above 65535.
    PortOutOfRange(u64),
}

impl fmt::Display for AddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddrError::NoBracket => f.write_str("no ']'"),
            AddrError::NotIpv6 => f.write_str("not an IPv6 address between [ and ]"),
            AddrError::JunkAfterBracket => f.write_str("junk after ']'"),
            AddrError::NoHost => f.write_str("no host"),
            AddrError::NotHost => f.write_str("not a host name or address"),
            AddrError::PortNotNumber(_) | AddrError::PortOutOfRange(_) => {
                f.write_str("the port must be a number from 1 to 65535")
            }
        }
    }
}

impl std::error::Error for AddrError {}

impl<'a> HostPort<'a> {
    /// Splits `HOST`, `HOST:PORT`, `[IPv6]` or `[IPv6]:PORT`. A bare IPv6
    /// address without brackets is refused: its last group would read as
    /// the port.
    pub fn parse(s: &'a str) -> Result<HostPort<'a>, AddrError> {
        let (host, port) = if let Some(inner) = s.strip_prefix('[') {
            let (host, after) = inner.split_once(']').ok_or(AddrError::NoBracket)?;
            if host.parse::<Ipv6Addr>().is_err() {
                return Err(AddrError::NotIpv6);
            }
            match after {
                "" => (host, None),
                _ => (
                    host,
                    Some(after.strip_prefix(':').ok_or(AddrError::JunkAfterBracket)?),
                ),
            }
        } else {
            let (host, port) = match s.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (s, None),
            };
            if host.contains(['/', ':', '[', ']']) || host.contains(char::is_whitespace) {
                return Err(AddrError::NotHost);
            }
            (host, port)
        };
        if host.is_empty() {
            return Err(AddrError::NoHost);
        }
        let port = match port {
            None => None,
            Some(text) => Some(match text.parse::<u64>() {
                Ok(n) => u16::try_from(n).map_err(|_| AddrError::PortOutOfRange(n))?,
                Err(_) => return Err(AddrError::PortNotNumber(text.to_string())),
            }),
        };
        Ok(HostPort { host, port })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits() {
        let ok = |s| HostPort::parse(s).unwrap();
        assert_eq!(ok("esp:23").host, "esp");
        assert_eq!(ok("esp:23").port, Some(23));
        assert_eq!(ok("esp").port, None);
        assert_eq!(ok("[fd00::5]:2001").host, "fd00::5");
        assert_eq!(ok("[fd00::5]").port, None);
        assert_eq!(ok("h:0").port, Some(0));
        let err = |s| HostPort::parse(s).unwrap_err();
        assert_eq!(err("[fd00::5"), AddrError::NoBracket);
        assert_eq!(err("[nope]:1"), AddrError::NotIpv6);
        assert_eq!(err("[::1]23"), AddrError::JunkAfterBracket);
        assert_eq!(err(":23"), AddrError::NoHost);
        assert_eq!(err("fd00::5:23"), AddrError::NotHost);
        assert_eq!(err("a/b:23"), AddrError::NotHost);
        assert_eq!(err("h:port"), AddrError::PortNotNumber("port".into()));
        assert_eq!(err("h:70000"), AddrError::PortOutOfRange(70000));
    }
}
