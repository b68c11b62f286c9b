//! `--mdns`: what is announced, and only where the network can reach it.

use std::fmt;

use super::HttpConfig;

/// What the mDNS responder announces ([`crate::mdns`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MdnsConfig {
    /// The HTTP output's port: the first `--http` address the network
    /// reaches.
    pub port: u16,
}

/// Why `--mdns` cannot announce the HTTP output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MdnsError {
    /// No `--http` given.
    NoHttp,
    /// `--http` serves loopback only.
    LoopbackOnly,
    /// `--http` on port 0: nothing fixed to announce.
    PortZero,
}

impl fmt::Display for MdnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MdnsError::NoHttp => {
                "--mdns announces the HTTP output: give --http too (Home Assistant asks \
                 port 80: --http 80)"
            }
            MdnsError::LoopbackOnly => {
                "--mdns would announce the HTTP output to the network, but --http serves \
                 loopback only: give an address the network reaches (--http 80)"
            }
            MdnsError::PortZero => {
                "--mdns announces the --http port: give a fixed one (--http 80), not 0"
            }
        })
    }
}

/// `--mdns` given (`on`) with the HTTP output `http`; `given`: `--http`
/// was given (the demo's page is on loopback by itself).
pub(super) fn mdns(
    on: bool,
    http: Option<&HttpConfig>,
    given: bool,
) -> Result<Option<MdnsConfig>, MdnsError> {
    if !on {
        return Ok(None);
    }
    let Some(HttpConfig { addrs, .. }) = http.filter(|_| given) else {
        return Err(MdnsError::NoHttp);
    };
    let Some(addr) = addrs.iter().find(|a| !a.ip().is_loopback()) else {
        return Err(MdnsError::LoopbackOnly);
    };
    match addr.port() {
        0 => Err(MdnsError::PortZero),
        port => Ok(Some(MdnsConfig { port })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(addrs: &[&str]) -> HttpConfig {
        HttpConfig {
            addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
            optional: false,
        }
    }

    #[test]
    fn needs_a_reachable_http_output() {
        assert_eq!(mdns(false, None, false), Ok(None));
        let port = |p| Ok(Some(MdnsConfig { port: p }));
        assert_eq!(mdns(true, Some(&http(&["[::]:80"])), true), port(80));
        let both = http(&["127.0.0.1:8081", "192.168.1.10:8080"]);
        assert_eq!(
            mdns(true, Some(&both), true),
            port(8080),
            "the reachable one"
        );
        let loopback = mdns(true, Some(&http(&["127.0.0.1:80"])), true);
        assert_eq!(loopback, Err(MdnsError::LoopbackOnly));
        let zero = mdns(true, Some(&http(&["[::]:0"])), true);
        assert_eq!(zero, Err(MdnsError::PortZero));
        // The demo's own page is on loopback; --mdns asks for --http.
        let demo = mdns(true, Some(&http(&["127.0.0.1:8080"])), false);
        assert_eq!(demo, Err(MdnsError::NoHttp));
        assert_eq!(mdns(true, None, false), Err(MdnsError::NoHttp));
        assert!(MdnsError::NoHttp.to_string().contains("give --http too"));
    }
}
