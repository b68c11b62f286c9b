//! The zone's answers, read back with the same DNS parser.

use std::net::{Ipv4Addr, Ipv6Addr};

use simple_dns::rdata::RData;
use simple_dns::{CLASS, Name, Packet, QCLASS, QTYPE, Question, ResourceRecord, TYPE};

use super::*;

fn zone() -> Zone {
    Zone {
        host: "p1mux-0123456789ab.local".into(),
        services: vec![
            Service::new(
                "_hwenergy._tcp",
                "p1mux-0123456789ab",
                80,
                &[
                    ("api_enabled", "1"),
                    ("path", "/api/v1"),
                    ("serial", "0123456789ab"),
                ],
            ),
            Service::new("_http._tcp", "p1mux-0123456789ab", 80, &[("path", "/")]),
        ],
    }
}

fn addrs() -> Addresses {
    Addresses {
        v4: vec![Ipv4Addr::new(192, 168, 1, 20)],
        v6: vec!["fe80::1".parse::<Ipv6Addr>().unwrap()],
    }
}

fn query(name: &str, qtype: TYPE, unicast: bool) -> Packet<'_> {
    let mut q = Packet::new_query(7);
    q.questions.push(Question::new(
        Name::new_unchecked(name),
        QTYPE::TYPE(qtype),
        QCLASS::CLASS(CLASS::IN),
        unicast,
    ));
    q
}

fn types(records: &[ResourceRecord]) -> Vec<(String, TYPE)> {
    records
        .iter()
        .map(|r| (r.name.to_string(), r.rdata.type_code()))
        .collect()
}

#[test]
fn browse_resolves_in_one_round_trip() {
    let q = query("_hwenergy._tcp.local", TYPE::PTR, false);
    let reply = zone()
        .answer(&q.build_bytes_vec().unwrap(), &addrs(), false)
        .unwrap();
    assert!(!reply.unicast);
    let p = Packet::parse(&reply.bytes).unwrap();
    assert_eq!((p.id(), p.questions.len()), (0, 0));
    assert_eq!(
        types(&p.answers),
        [("_hwenergy._tcp.local".into(), TYPE::PTR)]
    );
    let instance = "p1mux-0123456789ab._hwenergy._tcp.local".to_string();
    let host = "p1mux-0123456789ab.local".to_string();
    assert_eq!(
        types(&p.additional_records),
        [
            (instance.clone(), TYPE::SRV),
            (instance, TYPE::TXT),
            (host.clone(), TYPE::A),
            (host, TYPE::AAAA)
        ]
    );
    let RData::TXT(txt) = &p.additional_records[1].rdata else {
        panic!("no TXT")
    };
    let attributes = txt.attributes();
    assert_eq!(attributes["path"].as_deref(), Some("/api/v1"));
    assert_eq!(attributes["api_enabled"].as_deref(), Some("1"));
    let RData::SRV(srv) = &p.additional_records[0].rdata else {
        panic!("no SRV")
    };
    assert_eq!(
        (srv.port, srv.target.to_string()),
        (80, "p1mux-0123456789ab.local".into())
    );
    assert!(p.additional_records.iter().all(|r| r.cache_flush));
}

#[test]
fn known_answers_are_not_repeated() {
    let reply = |known_ttl| {
        let mut q = query("_hwenergy._tcp.local", TYPE::PTR, false);
        q.answers.push(ResourceRecord::new(
            Name::new_unchecked("_hwenergy._tcp.local"),
            CLASS::IN,
            known_ttl,
            RData::PTR(simple_dns::rdata::PTR(Name::new_unchecked(
                "p1mux-0123456789ab._hwenergy._tcp.local",
            ))),
        ));
        zone().answer(&q.build_bytes_vec().unwrap(), &addrs(), false)
    };
    assert_eq!(reply(4500), None, "the asker has it");
    assert!(reply(100).is_some(), "the asker's copy is about to expire");
}

#[test]
fn unicast_and_legacy_questions() {
    let q = query("p1mux-0123456789AB.local", TYPE::A, true);
    let reply = zone()
        .answer(&q.build_bytes_vec().unwrap(), &addrs(), false)
        .unwrap();
    assert!(reply.unicast, "QU bit: answered to the asker");
    let p = Packet::parse(&reply.bytes).unwrap();
    assert_eq!(
        types(&p.answers),
        [("p1mux-0123456789ab.local".into(), TYPE::A)]
    );

    let q = query("_http._tcp.local", TYPE::PTR, false);
    let reply = zone()
        .answer(&q.build_bytes_vec().unwrap(), &addrs(), true)
        .unwrap();
    let p = Packet::parse(&reply.bytes).unwrap();
    assert!(reply.unicast);
    assert_eq!(
        (p.id(), p.questions.len()),
        (7, 1),
        "a legacy resolver matches by id"
    );
    assert!(
        p.answers
            .iter()
            .chain(&p.additional_records)
            .all(|r| r.ttl <= 10 && !r.cache_flush)
    );
}

#[test]
fn silent_on_what_is_not_ours() {
    let z = zone();
    let other = query("_googlecast._tcp.local", TYPE::PTR, false);
    assert_eq!(
        z.answer(&other.build_bytes_vec().unwrap(), &addrs(), false),
        None
    );
    let aaaa = query("p1mux-0123456789ab.local", TYPE::AAAA, false);
    let no_v6 = Addresses {
        v6: vec![],
        ..addrs()
    };
    assert_eq!(
        z.answer(&aaaa.build_bytes_vec().unwrap(), &no_v6, false),
        None
    );
    // Another responder's answer is no question.
    let announce = z.announcement(&addrs(), false);
    assert_eq!(z.answer(&announce, &addrs(), false), None);
    for junk in [
        &b""[..],
        b"\x00\x07",
        &[0xff; 40],
        &announce[..announce.len() / 2],
    ] {
        assert_eq!(z.answer(junk, &addrs(), false), None);
    }
}

#[test]
fn announcement_and_goodbye() {
    let z = zone();
    let ttls = |goodbye| -> Vec<u32> {
        let bytes = z.announcement(&addrs(), goodbye);
        Packet::parse(&bytes)
            .unwrap()
            .answers
            .iter()
            .map(|r| r.ttl)
            .collect()
    };
    let hello = ttls(false);
    assert_eq!(
        hello.len(),
        2 * 4 + 2,
        "PTR, meta PTR, SRV, TXT per service; A, AAAA"
    );
    assert!(hello.iter().all(|ttl| *ttl > 0));
    let bye = ttls(true);
    assert!(bye.len() == hello.len() && bye.iter().all(|ttl| *ttl == 0));
}
