//! A small JSON writer, and a [`Reading`] as the state JSON that the MQTT
//! `state` topic, `/api/v1/data` and the status page share.
//!
//! Hand-written rather than serde: the output is one fixed shape, written
//! in one place, and strings, numbers and nesting are all it needs.
//!
//! # State format
//!
//! ```json
//! {
//!   "time": "2020-04-26T22:33:25+02:00",
//!   "meter": {"header": "/ISK5\\2M550T-1012", "manufacturer": "ISK",
//!             "version": "DSMR 5.0", "equipment_id": "E0044007382246019"},
//!   "values": {
//!     "energy_delivered_tariff1": {"value": 2130.115, "unit": "kWh", "obis": "1-0:1.8.1"},
//!     "tariff": {"value": 1, "obis": "0-0:96.14.0"},
//!     "gas_delivered": {"value": 246.138, "unit": "m3", "obis": "0-2:24.2.1",
//!                       "time": "2020-04-26T22:30:01+02:00", "channel": 2},
//!     "text_message": {"value": "", "obis": "0-0:96.13.0"},
//!     "power_failure_log": {"value": [{"end": "2019-03-26T09:50:15+01:00",
//!                           "duration": 2014, "unit": "s"}], "obis": "1-0:99.97.0"}
//!   }
//! }
//! ```
//!
//! - Only what the meter sent is there: no key, field or member is ever
//!   `null` or a stand-in zero. `time` is absent without `0-0:1.0.0`.
//! - `value` is a number (the meter's digits, leading zeros dropped: exact),
//!   a string (text, hex ASCII decoded) or a list of power failures.
//! - `unit` is the unit as sent (`Wh` on Austrian meters, `kWh` elsewhere).
//! - Times are RFC 3339 when the meter said W/S; without W/S (DSMR 2.2 gas)
//!   they are meter-local ISO 8601 without offset; a malformed one is left out.

use std::fmt::Write as _;

use crate::telegram::{Data, Reading, Timestamp};

/// Appends JSON to a string, placing commas and colons itself. Callers
/// must nest properly; `finish` checks that in debug builds.
#[derive(Default)]
pub struct Writer {
    out: String,
    /// One entry per open container: whether it is still empty.
    empty: Vec<bool>,
    /// A key was just written: the next item is its value.
    after_key: bool,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    fn item(&mut self) {
        if self.after_key {
            self.after_key = false;
            return;
        }
        if let Some(empty) = self.empty.last_mut() {
            if !*empty {
                self.out.push(',');
            }
            *empty = false;
        }
    }

    pub fn begin_object(&mut self) -> &mut Writer {
        self.item();
        self.out.push('{');
        self.empty.push(true);
        self
    }

    pub fn end_object(&mut self) -> &mut Writer {
        self.empty.pop();
        self.out.push('}');
        self
    }

    pub fn begin_array(&mut self) -> &mut Writer {
        self.item();
        self.out.push('[');
        self.empty.push(true);
        self
    }

    pub fn end_array(&mut self) -> &mut Writer {
        self.empty.pop();
        self.out.push(']');
        self
    }

    /// An object member's name; the next call writes its value.
    pub fn key(&mut self, key: &str) -> &mut Writer {
        self.item();
        escape(&mut self.out, key);
        self.out.push(':');
        self.after_key = true;
        self
    }

    pub fn string(&mut self, s: &str) -> &mut Writer {
        self.item();
        escape(&mut self.out, s);
        self
    }

    /// A finite number; NaN and infinities, which JSON cannot carry, as null.
    pub fn number(&mut self, n: f64) -> &mut Writer {
        self.item();
        if n.is_finite() {
            let _ = write!(self.out, "{n}");
        } else {
            self.out.push_str("null");
        }
        self
    }

    /// A number already in JSON syntax, e.g. [`crate::telegram::Number::json`].
    pub fn raw_number(&mut self, json: &str) -> &mut Writer {
        debug_assert!(is_json_number(json), "{json:?}");
        self.item();
        self.out.push_str(json);
        self
    }

    pub fn bool(&mut self, b: bool) -> &mut Writer {
        self.item();
        self.out.push_str(if b { "true" } else { "false" });
        self
    }

    pub fn null(&mut self) -> &mut Writer {
        self.item();
        self.out.push_str("null");
        self
    }

    pub fn finish(self) -> String {
        debug_assert!(self.empty.is_empty() && !self.after_key, "unbalanced JSON");
        self.out
    }
}

/// `s` as a JSON string literal.
fn escape(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?`, the subset `raw_number` may write.
fn is_json_number(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = s.split_once('.').map_or((s, None), |(i, f)| (i, Some(f)));
    let int_ok = int == "0"
        || (!int.is_empty() && !int.starts_with('0') && int.bytes().all(|b| b.is_ascii_digit()));
    int_ok && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// `state` (what [`state`] wrote: an object, never empty) with one string
/// member put first, e.g. MQTT's `received`: the values are neither parsed
/// nor written again, so one telegram's JSON is written once and shared.
pub fn with_first(state: &str, key: &str, value: &str) -> String {
    let members = state.strip_prefix('{').unwrap_or(state);
    let mut out = String::with_capacity(state.len() + key.len() + value.len() + 8);
    out.push('{');
    escape(&mut out, key);
    out.push(':');
    escape(&mut out, value);
    out.push(',');
    out.push_str(members);
    out
}

/// The state JSON of a reading (format above).
pub fn state(reading: &Reading) -> String {
    let mut w = Writer::new();
    w.begin_object();
    if let Some(time) = reading.time.as_ref().and_then(Timestamp::iso8601) {
        w.key("time").string(&time);
    }
    w.key("meter").begin_object();
    w.key("header").string(&reading.meter.header);
    if let Some(m) = &reading.meter.manufacturer {
        w.key("manufacturer").string(m);
    }
    if let Some(v) = reading.version() {
        w.key("version").string(&v);
    }
    if let Some(id) = reading.equipment_id() {
        w.key("equipment_id").string(id);
    }
    w.end_object();
    w.key("values").begin_object();
    for v in &reading.values {
        w.key(&v.key).begin_object();
        w.key("value");
        match &v.data {
            Data::Number(n) => {
                w.raw_number(&n.json());
            }
            Data::Text(t) => {
                w.string(t);
            }
            Data::Events(events) => {
                w.begin_array();
                for e in events {
                    w.begin_object();
                    if let Some(end) = e.end.iso8601() {
                        w.key("end").string(&end);
                    }
                    w.key("duration").raw_number(&e.duration.json());
                    if let Some(u) = &e.unit {
                        w.key("unit").string(u);
                    }
                    w.end_object();
                }
                w.end_array();
            }
        }
        if let Some(u) = &v.unit {
            w.key("unit").string(u);
        }
        w.key("obis").string(&v.obis.to_string());
        if let Some(t) = v.time.as_ref().and_then(Timestamp::iso8601) {
            w.key("time").string(&t);
        }
        if let Some(c) = v.channel {
            w.key("channel").number(f64::from(c));
        }
        w.end_object();
    }
    w.end_object();
    w.end_object();
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_put_first_keeps_the_rest_byte_for_byte() {
        let state = r#"{"time":"t","values":{"a":{"value":1}}}"#;
        assert_eq!(
            with_first(state, "received", "2026-\"x\""),
            r#"{"received":"2026-\"x\"","time":"t","values":{"a":{"value":1}}}"#
        );
    }

    #[test]
    fn writer_nesting_and_escapes() {
        let mut w = Writer::new();
        w.begin_object();
        w.key("a\"\\\n\u{1}").string("x\ty\u{7f}é");
        w.key("n")
            .begin_array()
            .number(1.5)
            .number(f64::NAN)
            .raw_number("-0.10")
            .bool(true)
            .null()
            .end_array();
        w.key("o").begin_object().end_object();
        w.end_object();
        assert_eq!(
            w.finish(),
            r#"{"a\"\\\n\u0001":"x\ty\u007fé","n":[1.5,null,-0.10,true,null],"o":{}}"#
        );
    }

    #[test]
    fn json_numbers() {
        for ok in ["0", "-0.5", "10", "2130.110"] {
            assert!(is_json_number(ok), "{ok}");
        }
        for bad in ["", "01", "1.", ".1", "-", "1e3", "+1"] {
            assert!(!is_json_number(bad), "{bad}");
        }
    }
}
