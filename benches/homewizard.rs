//! What the HomeWizard API and the mDNS responder cost: `/api/v1/data` made
//! from one DSMR 5 telegram's values (once per telegram, by the HTTP
//! output), and the answer to a browser's PTR question.
//!
//! Run: `cargo bench --bench homewizard`

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};

use criterion::{Criterion, criterion_group, criterion_main};
use p1mux::homewizard::data;
use p1mux::mdns::zone::{Addresses, Service, Zone};
use p1mux::telegram::Reading;
use p1mux_testkit::SAMPLES;
use simple_dns::{CLASS, Name, Packet, QCLASS, QTYPE, Question, TYPE};

fn homewizard(c: &mut Criterion) {
    let reading = Reading::parse(SAMPLES[5]);
    c.bench_function("homewizard_data_json_dsmr50", |b| {
        b.iter(|| data::json(black_box(&reading)))
    });
    let zone = Zone {
        host: "p1mux-0123456789ab.local".into(),
        services: vec![Service::new(
            "_hwenergy._tcp",
            "p1mux-0123456789ab",
            80,
            &[
                ("api_enabled", "1"),
                ("path", "/api/v1"),
                ("serial", "0123456789ab"),
            ],
        )],
    };
    let addrs = Addresses {
        v4: vec![Ipv4Addr::new(192, 168, 1, 20)],
        v6: vec![Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)],
    };
    let mut query = Packet::new_query(0);
    query.questions.push(Question::new(
        Name::new_unchecked("_hwenergy._tcp.local"),
        QTYPE::TYPE(TYPE::PTR),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    let query = query.build_bytes_vec().unwrap();
    c.bench_function("mdns_answer_ptr_query", |b| {
        b.iter(|| zone.answer(black_box(&query), &addrs, false))
    });
}

criterion_group!(benches, homewizard);
criterion_main!(benches);
