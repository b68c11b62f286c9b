//! `--mdns`: what is announced, and only where the network can reach it.

use super::HttpConfig;

/// What the mDNS responder announces ([`crate::mdns`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MdnsConfig {
    /// The HTTP output's port: the first `--http` address the network
    /// reaches.
    pub port: u16,
}

/// `--mdns` given (`on`) with the HTTP output `http`; `given`: `--http`
/// was given (the demo's page is on loopback by itself).
pub(super) fn mdns(
    on: bool,
    http: Option<&HttpConfig>,
    given: bool,
) -> Result<Option<MdnsConfig>, String> {
    if !on {
        return Ok(None);
    }
    let give_http = "--mdns announces the HTTP output: give --http too (Home Assistant asks \
                     port 80: --http 80)";
    let Some(HttpConfig { addrs, .. }) = http.filter(|_| given) else {
        return Err(give_http.into());
    };
    let Some(addr) = addrs.iter().find(|a| !a.ip().is_loopback()) else {
        return Err(
            "--mdns would announce the HTTP output to the network, but --http serves \
                    loopback only: give an address the network reaches (--http 80)"
                .into(),
        );
    };
    match addr.port() {
        0 => Err("--mdns announces the --http port: give a fixed one (--http 80), not 0".into()),
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
        let loopback = mdns(true, Some(&http(&["127.0.0.1:80"])), true).unwrap_err();
        assert!(loopback.contains("loopback only"), "{loopback}");
        let zero = mdns(true, Some(&http(&["[::]:0"])), true).unwrap_err();
        assert!(zero.contains("a fixed one"), "{zero}");
        // The demo's own page is on loopback; --mdns asks for --http.
        let demo = mdns(true, Some(&http(&["127.0.0.1:8080"])), false).unwrap_err();
        assert!(demo.contains("give --http too"), "{demo}");
        assert!(
            mdns(true, None, false)
                .unwrap_err()
                .contains("give --http too")
        );
    }
}
