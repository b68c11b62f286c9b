//! `--mdns`: announcing the HTTP output makes sense only where the
//! network can reach it.

use super::HttpConfig;

/// `http`: the HTTP output as configured; `given`: `--http` was given
/// (the demo's page is on loopback by itself).
pub(super) fn check(mdns: bool, http: Option<&HttpConfig>, given: bool) -> Result<(), String> {
    if !mdns {
        return Ok(());
    }
    match http {
        Some(HttpConfig { addrs, .. }) if given && addrs.iter().any(|a| !a.ip().is_loopback()) => {
            Ok(())
        }
        Some(_) if given => Err("--mdns would announce the HTTP output to the network, but \
                                 --http serves loopback only: give an address the network \
                                 reaches (--http 80)"
            .into()),
        _ => Err(
            "--mdns announces the HTTP output: give --http too (Home Assistant asks \
                  port 80: --http 80)"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(addr: &str) -> HttpConfig {
        HttpConfig {
            addrs: vec![addr.parse().unwrap()],
            optional: false,
        }
    }

    #[test]
    fn needs_a_reachable_http_output() {
        assert_eq!(check(false, None, false), Ok(()));
        assert_eq!(check(true, Some(&http("[::]:80")), true), Ok(()));
        assert_eq!(check(true, Some(&http("192.168.1.10:8080")), true), Ok(()));
        let loopback = check(true, Some(&http("127.0.0.1:80")), true).unwrap_err();
        assert!(loopback.contains("loopback only"), "{loopback}");
        // The demo's own page is on loopback; --mdns asks for --http.
        let demo = check(true, Some(&http("127.0.0.1:8080")), false).unwrap_err();
        assert!(demo.contains("give --http too"), "{demo}");
        assert!(
            check(true, None, false)
                .unwrap_err()
                .contains("give --http too")
        );
    }
}
