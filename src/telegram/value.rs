//! Typed values: a number with the meter's own digits, text, or an event log.

use super::catalog::Spec;
use super::line::Obis;
use super::timestamp::Timestamp;

/// A number as the meter wrote it, and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct Number {
    /// The digits exactly as sent, e.g. `002130.115`: nothing is rounded.
    pub text: String,
    /// `text` as a float (finite: DSMR numbers have at most ~12 digits).
    pub value: f64,
}

impl Number {
    /// `[-]digits[.digits]` only: a DSMR number, nothing looser.
    pub fn parse(text: &str) -> Option<Number> {
        let digits = text.strip_prefix('-').unwrap_or(text);
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let ok = !int.is_empty()
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.bytes().all(|b| b.is_ascii_digit())
            && (frac.is_empty() != digits.contains('.'));
        let value: f64 = if ok { text.parse().ok()? } else { return None };
        value.is_finite().then(|| Number {
            text: text.to_string(),
            value,
        })
    }

    /// The meter's digits as a JSON number: leading zeros dropped, trailing
    /// ones kept (`002130.110` -> `2130.110`), so the JSON is exact.
    pub fn json(&self) -> String {
        let (sign, digits) = match self.text.strip_prefix('-') {
            Some(d) => ("-", d),
            None => ("", self.text.as_str()),
        };
        let trimmed = digits.trim_start_matches('0');
        let body = if trimmed.is_empty() || trimmed.starts_with('.') {
            format!("0{trimmed}")
        } else {
            trimmed.to_string()
        };
        // No "-0": JSON allows it, but it reads as a bug.
        if sign == "-" && body.bytes().all(|b| b == b'0' || b == b'.') {
            body
        } else {
            format!("{sign}{body}")
        }
    }
}

/// One end of a power failure and how long it lasted (`1-0:99.97.0`).
#[derive(Clone, Debug, PartialEq)]
pub struct PowerFailure {
    /// When power came back.
    pub end: Timestamp,
    pub duration: Number,
    /// As sent; `s` on every meter seen.
    pub unit: Option<String>,
}

/// What a value holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    Number(Number),
    /// Decoded from hex ASCII where the meter encodes it so.
    Text(String),
    /// The power failure event log, oldest or newest first as sent.
    Events(Vec<PowerFailure>),
}

/// One typed value of the telegram.
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    /// Stable snake_case key: `spec.key` plus any tariff or channel suffix.
    pub key: String,
    /// Human name, with tariff or channel added like the key.
    pub name: String,
    /// What the key means: unit, Home Assistant classes, Prometheus kind.
    pub spec: &'static Spec,
    /// The line it came from.
    pub obis: Obis,
    pub data: Data,
    /// The unit exactly as the meter sent it (`kWh`, `Wh`, `m3`, `kVArh`).
    pub unit: Option<String>,
    /// The value's own timestamp: M-Bus readings (when the device was last
    /// read, often up to an hour old), the month's power peak.
    pub time: Option<Timestamp>,
    /// M-Bus channel 1-4, for device readings.
    pub channel: Option<u8>,
}

impl Value {
    pub fn number(&self) -> Option<f64> {
        match &self.data {
            Data::Number(n) => Some(n.value),
            _ => None,
        }
    }

    pub fn text(&self) -> Option<&str> {
        match &self.data {
            Data::Text(t) => Some(t),
            _ => None,
        }
    }

    /// The number converted to `unit` when the units differ only in a k or
    /// M prefix (`Wh` -> `kWh`, `W` -> `kW`, `kVArh` -> `kvarh`); None when
    /// they are unrelated. `number_in(spec.unit)` gives every meter's
    /// energy in kWh, whatever scale it sends.
    pub fn number_in(&self, unit: &str) -> Option<f64> {
        let number = self.number()?;
        let sent = self.unit.as_deref().unwrap_or("");
        let (from, base) = scale(sent);
        let (to, want) = scale(unit);
        base.eq_ignore_ascii_case(want).then(|| number * from / to)
    }
}

/// A unit's prefix factor and base unit: `kWh` is (1000, `Wh`).
fn scale(unit: &str) -> (f64, &str) {
    let known = |u: &str| {
        ["Wh", "W", "varh", "var", "VAh", "VA", "J"]
            .iter()
            .any(|k| k.eq_ignore_ascii_case(u))
    };
    for (prefix, factor) in [("k", 1e3), ("M", 1e6), ("G", 1e9)] {
        if let Some(base) = unit.strip_prefix(prefix)
            && known(base)
        {
            return (factor, base);
        }
    }
    (1.0, unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        let n = Number::parse("002130.110").unwrap();
        assert_eq!((n.value, n.json().as_str()), (2130.11, "2130.110"));
        assert_eq!(Number::parse("-040").unwrap().json(), "-40");
        assert_eq!(Number::parse("00000000").unwrap().json(), "0");
        assert_eq!(Number::parse("-000.00").unwrap().json(), "0.00");
        assert_eq!(Number::parse("000.00").unwrap().json(), "0.00");
        for bad in [
            "", "-", "1.", ".5", "1e5", "0x10", "1.2.3", " 1", "inf", "NaN", "+1",
        ] {
            assert_eq!(Number::parse(bad), None, "{bad:?}");
        }
        assert_eq!(Number::parse(&"9".repeat(400)), None, "not finite");
    }

    #[test]
    fn scales() {
        assert_eq!(scale("kWh"), (1e3, "Wh"));
        assert_eq!(scale("kVArh"), (1e3, "VArh"));
        assert_eq!(scale("m3"), (1.0, "m3"));
        assert_eq!(scale("GJ"), (1e9, "J"));
    }
}
