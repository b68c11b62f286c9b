//! HomeWizard's `/api/v1/data` and `/api` from any telegram: no panic,
//! JSON that parses, `wifi_ssid` always there, every number finite, every
//! timestamp twelve digits, every `external` entry with an id; the serial
//! twelve hex digits. The framer passes telegrams without a CRC, so
//! mutations of the seeds reach the mapping through it too.

use p1mux::framer::{Event, Framer, Parity};
use p1mux::homewizard::{Identity, data};
use p1mux::telegram::Reading;
use serde_json::Value;

fn numbers_finite(value: &Value) {
    match value {
        Value::Number(n) => assert!(n.as_f64().is_some_and(f64::is_finite), "{n}"),
        Value::Array(items) => items.iter().for_each(numbers_finite),
        Value::Object(members) => members.values().for_each(numbers_finite),
        _ => {}
    }
}

fn stamp(value: &Value) {
    let digits = value.to_string();
    assert!(
        digits.len() <= 12 && digits.bytes().all(|b| b.is_ascii_digit()),
        "{digits}"
    );
}

fn map(telegram: &[u8]) {
    let reading = Reading::parse(telegram);
    let json = data::json(&reading);
    let value: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    numbers_finite(&value);
    assert!(value["wifi_ssid"].is_string(), "{json}");
    for key in ["gas_timestamp", "montly_power_peak_timestamp"] {
        if let Some(t) = value.get(key) {
            stamp(t);
        }
    }
    for device in value["external"].as_array().into_iter().flatten() {
        assert!(device["unique_id"].is_string(), "{json}");
        stamp(&device["timestamp"]);
    }
    let serial = Identity::of(&reading, "/dev/ttyUSB0").serial;
    assert!(serial.len() == 12 && serial.bytes().all(|b| b.is_ascii_hexdigit()));
}

pub fn check(data: &[u8]) {
    let Some((_, rest)) = data.split_first() else {
        return;
    };
    map(rest);
    let mut framer = Framer::new(Parity::None);
    framer.push(rest, |event| {
        if let Event::Telegram(t) = event {
            map(t.bytes);
        }
    });
}
