//! The mDNS responder's answer to any datagram from the network (a query,
//! another responder's answer, junk): no panic; an answer is a DNS
//! response that parses again, carries only the zone's names, and goes
//! back to a legacy asker alone, with its id. A datagram comes whole: no
//! splits here; the first byte picks the addresses and the legacy flag.

use std::net::{Ipv4Addr, Ipv6Addr};

use p1mux::mdns::zone::{Addresses, Service, Zone};
use simple_dns::{Packet, PacketFlag};

const HOST: &str = "p1mux-0123456789ab.local";

pub fn check(data: &[u8]) {
    let Some((&first, datagram)) = data.split_first() else {
        return;
    };
    let txt = [
        ("api_enabled", "1"),
        ("path", "/api/v1"),
        ("serial", "0123456789ab"),
    ];
    let zone = Zone {
        host: HOST.into(),
        services: vec![
            Service::new("_hwenergy._tcp", "p1mux-0123456789ab", 80, &txt),
            Service::new("_http._tcp", "p1mux-0123456789ab", 80, &[("path", "/")]),
        ],
    };
    let mut addrs = Addresses::default();
    if first & 1 != 0 {
        addrs.v4.push(Ipv4Addr::new(192, 168, 1, 20));
    }
    if first & 2 != 0 {
        addrs.v6.push(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
    }
    let legacy = first & 4 != 0;
    let Some(reply) = zone.answer(datagram, &addrs, legacy) else {
        return;
    };
    let answer = Packet::parse(&reply.bytes).expect("an answer parses");
    assert!(answer.has_flags(PacketFlag::RESPONSE));
    assert!(!answer.answers.is_empty());
    let ours = |name: &str| {
        name == HOST
            || name.ends_with("._hwenergy._tcp.local")
            || name.ends_with("._http._tcp.local")
            || [
                "_hwenergy._tcp.local",
                "_http._tcp.local",
                "_services._dns-sd._udp.local",
            ]
            .contains(&name)
    };
    for record in answer.answers.iter().chain(&answer.additional_records) {
        let name = record.name.to_string().to_ascii_lowercase();
        assert!(ours(&name), "{name} is not ours");
        if legacy {
            assert!(record.ttl <= 10 && !record.cache_flush);
        }
    }
    if legacy {
        let query = Packet::parse(datagram).expect("it was answered, so it parsed");
        assert!(reply.unicast && answer.id() == query.id());
    }
}
