//! What the responder says: its records, the answer to a query, an
//! announcement, a goodbye. Pure code: bytes in, bytes out (RFC 6762 and
//! DNS-SD, RFC 6763).
//!
//! For each service: `PTR` from the service type to the instance (and
//! from `_services._dns-sd._udp.local`, for browsers that enumerate
//! types), `SRV` to the host and port, `TXT`; for the host, `A` and `AAAA`
//! of the interface the query came in on. A `PTR` answer carries the
//! `SRV`, `TXT` and addresses as additional records, so one round trip
//! resolves the service. Names are p1mux's own (`p1mux-SERIAL.local`), so
//! they do not collide with the host's avahi-daemon, which keeps the
//! machine's name.

use std::net::{Ipv4Addr, Ipv6Addr};

use simple_dns::rdata::{A, AAAA, PTR, RData, SRV, TXT};
use simple_dns::{CLASS, Name, Packet, PacketFlag, QCLASS, Question, ResourceRecord};

/// Service type enumeration (RFC 6763, 9).
const META: &str = "_services._dns-sd._udp.local";
/// RFC 6762, 10: records with a host name, 120 s; others 75 minutes.
const HOST_TTL: u32 = 120;
const OTHER_TTL: u32 = 4500;
/// RFC 6762, 6.7: answers to a legacy resolver live at most 10 s.
const LEGACY_TTL: u32 = 10;

/// One announced service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// `_hwenergy._tcp.local`.
    pub kind: String,
    /// `p1mux-SERIAL._hwenergy._tcp.local`.
    pub instance: String,
    pub port: u16,
    /// `key=value` strings.
    pub txt: Vec<String>,
}

impl Service {
    pub fn new(kind: &str, label: &str, port: u16, txt: &[(&str, &str)]) -> Service {
        Service {
            kind: format!("{kind}.local"),
            instance: format!("{label}.{kind}.local"),
            port,
            txt: txt.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        }
    }
}

/// Everything p1mux answers for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// `p1mux-SERIAL.local`.
    pub host: String,
    pub services: Vec<Service>,
}

/// The addresses of one interface.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addresses {
    pub v4: Vec<Ipv4Addr>,
    pub v6: Vec<Ipv6Addr>,
}

/// What a record is for, to pick the additional records.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Ptr(usize),
    Meta,
    Srv(usize),
    Txt(usize),
    Address,
}

/// An answer to send: to the group, or back to the asker alone.
#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    pub bytes: Vec<u8>,
    pub unicast: bool,
}

impl Zone {
    fn records<'a>(&'a self, addrs: &Addresses) -> Vec<(Role, ResourceRecord<'a>)> {
        let name = |s: &'a str| Name::new_unchecked(s);
        let rr = |n: &'a str, ttl, rdata| ResourceRecord::new(name(n), CLASS::IN, ttl, rdata);
        let mut out = Vec::new();
        for (i, s) in self.services.iter().enumerate() {
            out.push((
                Role::Ptr(i),
                rr(&s.kind, OTHER_TTL, RData::PTR(PTR(name(&s.instance)))),
            ));
            out.push((
                Role::Meta,
                rr(META, OTHER_TTL, RData::PTR(PTR(name(&s.kind)))),
            ));
            let srv = SRV {
                priority: 0,
                weight: 0,
                port: s.port,
                target: name(&self.host),
            };
            out.push((
                Role::Srv(i),
                rr(&s.instance, HOST_TTL, RData::SRV(srv)).with_cache_flush(true),
            ));
            let mut txt = TXT::new();
            for pair in &s.txt {
                // Only our own short `key=value` strings: always valid.
                let _ = txt.add_string(pair);
            }
            out.push((
                Role::Txt(i),
                rr(&s.instance, OTHER_TTL, RData::TXT(txt)).with_cache_flush(true),
            ));
        }
        for ip in &addrs.v4 {
            let a = RData::A(A {
                address: u32::from(*ip),
            });
            out.push((
                Role::Address,
                rr(&self.host, HOST_TTL, a).with_cache_flush(true),
            ));
        }
        for ip in &addrs.v6 {
            let aaaa = RData::AAAA(AAAA {
                address: u128::from(*ip),
            });
            out.push((
                Role::Address,
                rr(&self.host, HOST_TTL, aaaa).with_cache_flush(true),
            ));
        }
        out
    }

    /// Every record, unasked: an announcement, or with `goodbye` the same
    /// records with TTL 0, which tells caches to forget them (RFC 6762, 10.1).
    pub fn announcement(&self, addrs: &Addresses, goodbye: bool) -> Vec<u8> {
        let mut packet = Packet::new_reply(0);
        packet.set_flags(PacketFlag::AUTHORITATIVE_ANSWER);
        for (_, mut record) in self.records(addrs) {
            if goodbye {
                record.ttl = 0;
            }
            packet.answers.push(record);
        }
        packet.build_bytes_vec_compressed().unwrap_or_default()
    }

    /// The answer to `query`, received on an interface with `addrs`; None
    /// when it asks nothing of ours (or is no query). `legacy`: it came
    /// from a port other than 5353, a plain resolver's one-shot question.
    pub fn answer(&self, query: &[u8], addrs: &Addresses, legacy: bool) -> Option<Reply> {
        let query = Packet::parse(query).ok()?;
        if query.has_flags(PacketFlag::RESPONSE) {
            return None;
        }
        let records = self.records(addrs);
        let mut answers: Vec<usize> = Vec::new();
        let mut unicast = legacy;
        for q in &query.questions {
            if !matches!(q.qclass, QCLASS::ANY | QCLASS::CLASS(CLASS::IN)) {
                continue;
            }
            for (i, (_, record)) in records.iter().enumerate() {
                let wanted = record.name == q.qname && record.match_qtype(q.qtype);
                if wanted && !answers.contains(&i) && !known(&query, record) {
                    answers.push(i);
                    unicast |= q.unicast_response;
                }
            }
        }
        if answers.is_empty() {
            return None;
        }
        let mut additional: Vec<usize> = Vec::new();
        for &i in &answers {
            for (j, (role, _)) in records.iter().enumerate() {
                let extra = match (records[i].0, *role) {
                    (Role::Ptr(s), Role::Srv(t) | Role::Txt(t)) => s == t,
                    (Role::Ptr(_) | Role::Srv(_), Role::Address) => true,
                    _ => false,
                };
                if extra && !answers.contains(&j) && !additional.contains(&j) {
                    additional.push(j);
                }
            }
        }
        let mut reply = Packet::new_reply(if legacy { query.id() } else { 0 });
        reply.set_flags(PacketFlag::AUTHORITATIVE_ANSWER);
        let take = |i: usize| {
            let mut record = records[i].1.clone();
            if legacy {
                record.ttl = record.ttl.min(LEGACY_TTL);
                record.cache_flush = false;
            }
            record
        };
        if legacy {
            // A legacy resolver matches the answer to its question.
            reply.questions = query
                .questions
                .iter()
                .map(|q| Question::new(q.qname.clone(), q.qtype, q.qclass, false))
                .collect();
        }
        reply.answers = answers.into_iter().map(take).collect();
        reply.additional_records = additional.into_iter().map(take).collect();
        Some(Reply {
            bytes: reply.build_bytes_vec_compressed().ok()?,
            unicast,
        })
    }
}

/// Known-answer suppression (RFC 6762, 7.1): the asker has this record
/// with at least half its lifetime left.
fn known(query: &Packet, record: &ResourceRecord) -> bool {
    query
        .answers
        .iter()
        .any(|k| k.name == record.name && k.rdata == record.rdata && k.ttl >= record.ttl / 2)
}

#[cfg(test)]
#[path = "zone_tests.rs"]
mod tests;
