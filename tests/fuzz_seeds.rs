//! Every fuzz target's check (fuzz/src/) over its committed seeds
//! (fuzz/corpus/<target>/), each cut at 256 places, in plain `cargo test`:
//! the checks run even where nightly and libFuzzer are not at hand
//! (fuzz/ci runs libFuzzer itself, briefly, in .ci/run).
//!
//! `cargo test --test fuzz_seeds -- --ignored write_seeds` writes the
//! seeds made here (encrypted frames under the fuzz key, MQTT and HTTP
//! traffic, telegrams); the framer's seeds are the sample telegrams.

use std::fs;
use std::path::{Path, PathBuf};

#[allow(dead_code)]
#[path = "encrypted/frames.rs"]
mod frames;
#[allow(dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod fuzz;

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

#[test]
fn every_check_holds_over_its_seeds_cut_anywhere() {
    for (target, check) in fuzz::TARGETS {
        let mut seeds = 0;
        for entry in fs::read_dir(corpus(target)).unwrap() {
            let path = entry.unwrap().path();
            let mut data = fs::read(&path).unwrap();
            if data.is_empty() {
                continue;
            }
            seeds += 1;
            for first in 0..=255 {
                data[0] = first;
                check(&data);
            }
        }
        assert!(seeds >= 3, "{target}: {seeds} seeds");
    }
}

/// The seeds as (target, name, bytes after the cut byte).
fn seeds() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    use frames::{Form, concat, frame, lux_frame, noise, short_telegram};
    let mut truncated = lux_frame(3);
    truncated.truncate(200);
    let mut longer = lux_frame(5);
    longer[11] ^= 0x08;
    let lux_stream = concat(&[
        &noise(1, 20),
        &lux_frame(1),
        &lux_frame(2),
        &truncated,
        &lux_frame(4),
        &longer,
        &lux_frame(6),
        &lux_frame(7),
        b"tail",
    ]);
    let short_stream = concat(&[
        &noise(2, 9),
        &frame(Form::Short, 1, &short_telegram(1)),
        &frame(Form::Long1, 2, &short_telegram(2)),
        b"\xDB\x08SAG\x01\x02\x03\x04\x05\x82\x20\x00",
        &frame(Form::Long2, 3, &short_telegram(3)),
    ]);
    let mut cut_short = frame(Form::Short, 4, &short_telegram(4));
    cut_short.truncate(30);
    let short_cut = concat(&[
        &cut_short,
        &frame(Form::Short, 5, &short_telegram(5)),
        &frame(Form::Short, 5, &short_telegram(5)),
        &frame(Form::Short, 6, &short_telegram(6)),
    ]);
    let mqtt = concat(&[
        b"\x20\x02\x00\x00",
        b"\x90\x03\x00\x01\x00",
        b"\x30\x1Ahomeassistant/statusonline",
        b"\x32\x10\x00\x05p1/uv\x00\x07hello",
        b"\x40\x02\x00\x01",
        b"\xD0\x00",
        b"\x90\x03\x00\x02\x80",
    ]);
    let refused = b"\x20\x02\x00\x05".to_vec();
    let early = b"\x30\x05\x00\x01tx\x20\x02\x00\x00".to_vec();
    let http = b"GET / HTTP/1.1\r\nHost: p1mux.local\r\n\r\n\
        HEAD /api/v1/data?x=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n\
        GET http://p1mux/events#x HTTP/1.1\r\nConnection: close\r\n\r\n"
        .to_vec();
    let http_body =
        b"POST /api HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n".to_vec();
    let http_bad =
        b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\nGET /\x01 HTTP/1.1\r\n\r\n".to_vec();
    let data = |name: &str| {
        fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data")
                .join(name),
        )
        .unwrap()
    };
    let lf_only = String::from_utf8(data("dsmr50_iskra_am550_2mbus.txt"))
        .unwrap()
        .replace("\r\n", "\n")
        .into_bytes();
    let mut out = vec![
        ("splitter", "seed-lux", lux_stream.clone()),
        ("splitter", "seed-short", short_stream.clone()),
        ("splitter", "seed-cut", short_cut.clone()),
        ("decryptor", "seed-lux", lux_stream),
        ("decryptor", "seed-short", short_stream),
        ("decryptor", "seed-cut", short_cut),
        ("mqtt_codec", "seed-session", mqtt.clone()),
        ("mqtt_codec", "seed-refused", refused.clone()),
        ("mqtt_codec", "seed-early", early.clone()),
        ("mqtt_session", "seed-session", mqtt),
        ("mqtt_session", "seed-refused", refused),
        ("mqtt_session", "seed-early", early),
        ("http_request", "seed-requests", http),
        ("http_request", "seed-body", http_body),
        ("http_request", "seed-bad", http_bad),
        ("telegram", "seed-lf-only", lf_only.clone()),
        ("framer", "seed-lf-only", lf_only),
    ];
    for name in [
        "dsmr22_iskra_mt382-1003.txt",
        "dsmr50_iskra_am550_2mbus.txt",
        "belgium_fluvius_emucs171_gas_water.txt",
        "austria_sagemcom_t210dr.txt",
        "sweden_aidon_6534.txt",
        "dsmr30_iskra_mt382-1000_spec_textmsg.txt",
    ] {
        let seed: &'static str = format!("seed-{}", name.trim_end_matches(".txt")).leak();
        out.push(("telegram", seed, data(name)));
        out.push(("homewizard", seed, data(name)));
    }
    out.push(("homewizard", "seed-luxembourg", frames::lux(1)));
    out.extend(mdns_seeds());
    out
}

/// Questions a browser asks, and another responder's announcement.
fn mdns_seeds() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    use simple_dns::rdata::{PTR, RData};
    use simple_dns::{CLASS, Name, Packet, QCLASS, QTYPE, Question, ResourceRecord, TYPE};
    let query = |questions: &[(&'static str, TYPE, bool)], known: Option<&'static str>| {
        let mut q = Packet::new_query(0x1234);
        for &(name, qtype, unicast) in questions {
            q.questions.push(Question::new(
                Name::new_unchecked(name),
                QTYPE::TYPE(qtype),
                QCLASS::CLASS(CLASS::IN),
                unicast,
            ));
        }
        if let Some(instance) = known {
            q.answers.push(ResourceRecord::new(
                Name::new_unchecked("_hwenergy._tcp.local"),
                CLASS::IN,
                4500,
                RData::PTR(PTR(Name::new_unchecked(instance))),
            ));
        }
        q.build_bytes_vec_compressed().unwrap()
    };
    let browse = query(&[("_hwenergy._tcp.local", TYPE::PTR, false)], None);
    let resolve = query(
        &[
            ("p1mux-0123456789ab._hwenergy._tcp.local", TYPE::SRV, true),
            ("p1mux-0123456789ab.local", TYPE::A, true),
            ("p1mux-0123456789ab.local", TYPE::AAAA, true),
        ],
        None,
    );
    let known = query(
        &[
            ("_hwenergy._tcp.local", TYPE::PTR, false),
            ("_http._tcp.local", TYPE::PTR, false),
        ],
        Some("p1mux-0123456789ab._hwenergy._tcp.local"),
    );
    let mut announcement = Packet::new_reply(0);
    announcement.answers.push(ResourceRecord::new(
        Name::new_unchecked("_http._tcp.local"),
        CLASS::IN,
        4500,
        RData::PTR(PTR(Name::new_unchecked("printer._http._tcp.local"))),
    ));
    vec![
        ("mdns", "seed-browse", browse),
        ("mdns", "seed-resolve", resolve),
        ("mdns", "seed-known-answer", known),
        (
            "mdns",
            "seed-announcement",
            announcement.build_bytes_vec().unwrap(),
        ),
    ]
}

#[test]
#[ignore = "writes fuzz/corpus/*/seed-*: run by hand when the seeds change"]
fn write_seeds() {
    for (target, name, bytes) in seeds() {
        let dir = corpus(target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(name), [&[0x2A][..], &bytes].concat()).unwrap();
    }
}
