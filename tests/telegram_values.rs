//! The telegram-values parser over every sample telegram: it never panics
//! (any bytes, samples cut and mutated), every value it reports is in the
//! telegram text under its own OBIS line (a value the meter did not send is
//! absent, never a stand-in zero), the state JSON is always valid JSON that
//! says the same, and each sample's values are what its text says
//! (expected.rs) and what Home Assistant's parser reads (home_assistant.rs).

#[path = "telegram_values/expected.rs"]
mod expected;
#[path = "telegram_values/home_assistant.rs"]
mod home_assistant;

use std::collections::HashSet;

use p1mux::framer::{Event, Framer, Parity};
use p1mux::json;
use p1mux::telegram::{Data, Reading};
use proptest::prelude::*;
use proptest::sample::Index;

macro_rules! sample {
    ($name:literal) => {
        ($name, include_bytes!(concat!("data/", $name)) as &[u8])
    };
}

/// Every single-telegram sample, by file name.
pub const SAMPLES: [(&str, &[u8]); 13] = [
    sample!("dsmr22_iskra_mt382-1003.txt"),
    sample!("dsmr30_iskra_mt382-1000_spec_textmsg.txt"),
    sample!("dsmr40_iskra_spec_textmsg.txt"),
    sample!("dsmr42_kaifa_ma105.txt"),
    sample!("dsmr42_landisgyr_e350.txt"),
    sample!("dsmr50_iskra_am550_2mbus.txt"),
    sample!("dsmr50_sagemcom_cx2000_pfl10.txt"),
    sample!("belgium_fluvius_emucs171_gas_water.txt"),
    sample!("luxembourg_smarty_plaintext.txt"),
    sample!("sweden_aidon_6534.txt"),
    sample!("sweden_aidon_6534_reactive.txt"),
    sample!("austria_sagemcom_t210dr.txt"),
    sample!("heat_warmtelink_gj.txt"),
];

pub fn sample(name: &str) -> Reading {
    let (_, bytes) = SAMPLES.iter().find(|(n, _)| *n == name).expect(name);
    check(bytes)
}

/// Parses `telegram` and checks what must hold for any input: each key
/// once; each value taken from a line with its OBIS id, its number, unit
/// and time among that line's fields, as sent; the JSON valid and equal.
pub fn check(telegram: &[u8]) -> Reading {
    let reading = Reading::parse(telegram);
    let mut keys = HashSet::new();
    for v in &reading.values {
        assert!(keys.insert(v.key.as_str()), "{} twice", v.key);
        let line = reading
            .lines
            .iter()
            .find(|l| l.obis == Some(v.obis) && l.known)
            .unwrap_or_else(|| panic!("{}: no known {} line", v.key, v.obis));
        let in_fields = |s: &str| line.fields.iter().any(|f| f.contains(s));
        match &v.data {
            Data::Number(n) => {
                assert!(in_fields(&n.text), "{}: {} not sent", v.key, n.text);
                assert_eq!(Some(n.value), n.text.parse().ok(), "{}", v.key);
            }
            Data::Text(_) => assert!(!line.fields.is_empty(), "{}", v.key),
            Data::Events(events) => {
                for e in events {
                    assert!(in_fields(&e.duration.text) && in_fields(&e.end.raw));
                }
            }
        }
        if let Some(unit) = &v.unit {
            assert!(in_fields(unit), "{}: unit {unit} not sent", v.key);
        }
        if let Some(time) = &v.time {
            assert!(
                in_fields(&time.raw),
                "{}: time {} not sent",
                v.key,
                time.raw
            );
        }
        assert!(
            v.key.starts_with(v.spec.key),
            "{} from {}",
            v.key,
            v.spec.key
        );
    }
    let text = String::from_utf8_lossy(telegram);
    for line in &reading.lines {
        for field in &line.fields {
            assert!(text.contains(&format!("({field})")), "{field} made up");
        }
    }
    check_json(&reading);
    reading
}

/// The state JSON parses, and holds exactly the reading's values.
fn check_json(reading: &Reading) {
    let state = json::state(reading);
    let doc: serde_json::Value =
        serde_json::from_str(&state).unwrap_or_else(|e| panic!("{e}: {state}"));
    let values = doc["values"].as_object().expect("values");
    assert_eq!(values.len(), reading.values.len(), "{state}");
    for v in &reading.values {
        let got = &values[&v.key];
        match &v.data {
            Data::Number(n) => assert_eq!(got["value"].as_f64(), Some(n.value), "{state}"),
            Data::Text(t) => assert_eq!(got["value"].as_str(), Some(t.as_str())),
            Data::Events(e) => assert_eq!(got["value"].as_array().map(Vec::len), Some(e.len())),
        }
        assert_eq!(got["unit"].as_str(), v.unit.as_deref(), "{}", v.key);
        assert_eq!(got["obis"].as_str(), Some(v.obis.to_string().as_str()));
        let time = v.time.as_ref().and_then(|t| t.iso8601());
        assert_eq!(got["time"].as_str(), time.as_deref(), "{}", v.key);
    }
    let time = reading.time.as_ref().and_then(|t| t.iso8601());
    assert_eq!(doc["time"].as_str(), time.as_deref());
    assert_eq!(
        doc["meter"]["equipment_id"].as_str(),
        reading.equipment_id()
    );
}

#[test]
fn sample_crcs_are_valid() {
    for (name, bytes) in SAMPLES {
        let bang = bytes.iter().rposition(|&b| b == b'!').unwrap();
        let crc = std::str::from_utf8(&bytes[bang + 1..]).unwrap().trim_end();
        assert!(bytes.ends_with(b"\r\n"), "{name}");
        if !crc.is_empty() {
            let want = p1mux::framer::crc16(&bytes[..=bang]);
            assert_eq!(u16::from_str_radix(crc, 16).ok(), Some(want), "{name}");
        }
    }
}

#[test]
fn every_sample_holds_the_invariants() {
    for (name, bytes) in SAMPLES {
        let reading = check(bytes);
        assert!(reading.values.len() >= 3, "{name}: {:?}", reading.values);
        let raw_lines = bytes.split(|&b| b == b'\n').filter(|l| l.len() > 1).count();
        // Header and '!' line aside, one Line per row (DSMR 2.2/3.0 gas
        // continuation rows are folded into the row above).
        let folded = bytes.windows(2).filter(|w| w == b"\n(").count();
        assert_eq!(reading.lines.len(), raw_lines - 2 - folded, "{name}");
    }
}

/// The framer's telegrams from the 440 KB capture: keys stable from one
/// telegram to the next, totals never going down.
#[test]
fn capture_telegrams_keep_their_keys_and_totals_only_grow() {
    let capture = include_bytes!("data/capture_iskra_am550_566.txt");
    let mut telegrams = Vec::new();
    Framer::new(Parity::None).push(capture, |e| {
        if let Event::Telegram(t) = e {
            telegrams.push(t.bytes.to_vec());
        }
    });
    assert_eq!(telegrams.len(), 566);
    let first = check(&telegrams[0]);
    let keys: Vec<&str> = first.values.iter().map(|v| v.key.as_str()).collect();
    assert!(
        keys.contains(&"power_delivered_l1") && keys.contains(&"voltage_l1"),
        "{keys:?}"
    );
    let mut last = first.clone();
    for t in &telegrams[1..] {
        let r = check(t);
        let now: Vec<&str> = r.values.iter().map(|v| v.key.as_str()).collect();
        assert_eq!(now, keys);
        for (old, new) in last.values.iter().zip(&r.values) {
            if old.spec.metric == Some(p1mux::telegram::catalog::MetricKind::Counter) {
                assert!(new.number() >= old.number(), "{} went down", new.key);
            }
        }
        last = r;
    }
}

/// Bytes shaped like telegram lines, to reach deeper than random bytes.
fn telegram_like() -> impl Strategy<Value = Vec<u8>> {
    let token = prop::sample::select(vec![
        "/",
        "ISK5\\2M",
        "\r\n",
        "\n",
        "(",
        ")",
        "*",
        "kWh",
        "m3",
        "0",
        "1",
        "9",
        ".",
        "-",
        ":",
        "1-0:1.8.1",
        "0-1:24.2.1",
        "0-2:24.1.0",
        "003",
        "007",
        "0-1:24.3.0",
        "1-0:99.97.0",
        "0-0:96.7.19",
        "0-0:96.13.0",
        "0-0:1.0.0",
        "200426223325S",
        "700101010000W",
        "W",
        "!",
        "0-0:96.1.1",
        "4530",
        "1-3:0.2.8",
        "50",
        "\u{fffd}",
        "\"",
        "\\",
        "\u{1}",
    ]);
    prop::collection::vec(token, 0..200).prop_map(|t| t.concat().into_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..3000)) {
        check(&bytes);
    }

    #[test]
    fn telegram_shaped_bytes(bytes in telegram_like()) {
        check(&bytes);
    }

    #[test]
    fn samples_cut_and_mutated(
        which in any::<Index>(),
        cut in any::<Index>(),
        changes in prop::collection::vec((any::<Index>(), any::<u8>()), 0..6),
    ) {
        let (_, bytes) = SAMPLES[which.index(SAMPLES.len())];
        let mut bytes = bytes[..=cut.index(bytes.len())].to_vec();
        for (at, byte) in changes {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        check(&bytes);
    }

    /// Absent stays absent: without one of its lines, a telegram has the
    /// same values less exactly those of that line.
    #[test]
    fn a_removed_line_takes_only_its_own_values(which in any::<Index>(), row in any::<Index>()) {
        let (_, bytes) = SAMPLES[which.index(SAMPLES.len())];
        let text = std::str::from_utf8(bytes).unwrap();
        let rows: Vec<&str> = text.split_inclusive("\r\n").collect();
        let i = 1 + row.index(rows.len() - 2);
        prop_assume!(!rows[i].starts_with('(') && rows.get(i + 1).is_none_or(|r| !r.starts_with('(')));
        let id = rows[i].split('(').next().unwrap();
        let without: String = rows.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, r)| *r).collect();
        let pairs = |r: &Reading| -> Vec<String> {
            let mut p: Vec<String> = r.values.iter().map(|v| format!("{} {:?}", v.obis, v.data)).collect();
            p.sort();
            p
        };
        let before = check(bytes);
        let after = check(without.as_bytes());
        let mut want = pairs(&before);
        want.retain(|p| !p.starts_with(&format!("{id} ")));
        // (A removed M-Bus device type may rename its channel's reading,
        // which is why values are compared by OBIS id and data, not key.)
        prop_assert_eq!(pairs(&after), want, "without {:?}", rows[i]);
    }
}
