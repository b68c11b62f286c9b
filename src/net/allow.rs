//! `--allow`: which client addresses may connect.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An address block such as `192.168.1.0/24`, `fd00::/8` or one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` lies in the block. An IPv4-mapped IPv6 peer
    /// (`::ffff:192.168.1.5`, as a dual-stack listener reports IPv4
    /// clients) matches IPv4 blocks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Text that is no address block, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CidrError(pub String);

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bad address block '{}': use e.g. 192.168.1.0/24, 10.0.0.7 or fd00::/8",
            self.0
        )
    }
}

impl std::error::Error for CidrError {}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Cidr, CidrError> {
        let bad = || CidrError(s.to_string());
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let written: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if written.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|&p| p <= max).ok_or_else(bad)?,
        };
        // An IPv4-mapped block (::ffff:10.0.0.0/104) is the IPv4 block it maps.
        let net = written.to_canonical();
        let prefix = match (written, net) {
            (IpAddr::V6(_), IpAddr::V4(_)) => prefix.checked_sub(96).ok_or_else(bad)?,
            _ => prefix,
        };
        Ok(Cidr { net, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

/// Whether `ip` may connect under `rules`; no rules allow everyone.
pub fn allowed(rules: &[Cidr], ip: IpAddr) -> bool {
    rules.is_empty() || rules.iter().any(|rule| rule.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_blocks() {
        let lan: Cidr = "192.168.1.0/24".parse().unwrap();
        assert!(lan.contains(ip("192.168.1.200")));
        assert!(!lan.contains(ip("192.168.2.1")));
        assert!(
            lan.contains(ip("::ffff:192.168.1.7")),
            "IPv4-mapped peers match IPv4 rules"
        );
        assert!(!lan.contains(ip("fe80::1")));
        let one: Cidr = "10.0.0.7".parse().unwrap();
        assert!(one.contains(ip("10.0.0.7")) && !one.contains(ip("10.0.0.8")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")) && !all.contains(ip("::1")));
    }

    #[test]
    fn ipv6_blocks() {
        let ula: Cidr = "fd00::/8".parse().unwrap();
        assert!(ula.contains(ip("fd12:3456::1")));
        assert!(!ula.contains(ip("fe80::1")));
        let lo: Cidr = "::1".parse().unwrap();
        assert!(lo.contains(ip("::1")) && !lo.contains(ip("127.0.0.1")));
        let mapped: Cidr = "::ffff:10.0.0.0/104".parse().unwrap();
        assert_eq!(mapped, "10.0.0.0/8".parse().unwrap());
        assert!(mapped.contains(ip("10.1.2.3")) && mapped.contains(ip("::ffff:10.1.2.3")));
        assert!("::ffff:10.0.0.0/64".parse::<Cidr>().is_err());
        let all: Cidr = "::/0".parse().unwrap();
        assert!(all.contains(ip("2001:db8::1")));
    }

    #[test]
    fn mistakes() {
        for bad in [
            "",
            "lan",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "10.0.0.0/-1",
            "1.2.3.4/",
        ] {
            assert_eq!(bad.parse::<Cidr>(), Err(CidrError(bad.into())), "{bad}");
        }
        assert!(allowed(&[], ip("203.0.113.9")), "no rules: everyone");
    }
}
