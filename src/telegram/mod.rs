//! The values in a telegram: what the meter measured, typed, with units and
//! timestamps, for the MQTT, HTTP and metrics outputs.
//!
//! Pure code: a valid telegram ('/' through the '!' line, as the framer
//! forwards it) in, a [`Reading`] out. Parsing never fails and never
//! panics; every line is kept in order, known or not ([`Reading::lines`]).
//! A value the meter did not send is absent, never zero: a made-up zero
//! total makes Home Assistant's energy dashboard spike.
//!
//! Covers DSMR 2.2 to 5.0 and the Belgian (e-MUCS), Luxembourg (Smarty,
//! plaintext), Swedish and Austrian variants: see [`catalog`] for the keys.
//!
//! ```
//! use p1mux::telegram::Reading;
//! let reading = Reading::parse(b"/ISK5\\2M550T-1012\r\n\r\n1-3:0.2.8(50)\r\n\
//!     1-0:1.8.1(002130.115*kWh)\r\n!0000\r\n");
//! let t1 = reading.get("energy_delivered_tariff1").unwrap();
//! assert_eq!((t1.number(), t1.unit.as_deref()), (Some(2130.115), Some("kWh")));
//! assert!(reading.get("energy_delivered_tariff2").is_none(), "absent stays absent");
//! ```

pub mod catalog;
mod line;
pub mod mbus;
mod meter;
mod timestamp;
mod value;

pub use line::{Line, Obis, decode_hex_ascii};
pub use meter::{EquipmentId, Meter, generation, header};
pub use timestamp::{DateTime, Season, Timestamp};
pub use value::{Data, Number, PowerFailure, Value};

use line::value_and_unit;
use mbus::Role;

/// Everything one telegram says, parsed once for all consumers.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    pub meter: Meter,
    /// `0-0:1.0.0`: when the meter made the telegram (absent in DSMR 2.2/3.0).
    pub time: Option<Timestamp>,
    /// The typed values, in telegram order, each key at most once.
    pub values: Vec<Value>,
    /// M-Bus devices by channel.
    pub mbus: Vec<mbus::Device>,
    /// Every data line, in order, including those no value came from.
    pub lines: Vec<Line>,
    /// The hex digits after '!' (empty for DSMR 2.2/3.0).
    pub checksum: String,
}

const TIME: Obis = Obis::new(0, 0, 1, 0, 0);
const VERSION: Obis = Obis::new(1, 3, 0, 2, 8);
const BELGIAN_VERSION: Obis = Obis::new(0, 0, 96, 1, 4);
const EQUIPMENT_IDS: [Obis; 2] = [Obis::new(0, 0, 96, 1, 1), Obis::new(0, 0, 42, 0, 0)];

impl Reading {
    /// Parses a telegram; any bytes are accepted (a damaged one yields
    /// fewer values, never an error).
    pub fn parse(telegram: &[u8]) -> Reading {
        let line::Split {
            header,
            mut lines,
            checksum,
        } = line::split(telegram);
        let mbus = mbus::devices(&lines);
        let mut reading = Reading {
            meter: meter::meter(header),
            time: None,
            values: Vec::new(),
            mbus,
            lines: Vec::new(),
            checksum,
        };
        for line in &mut lines {
            line.known = reading.take(line);
        }
        reading.lines = lines;
        reading
    }

    /// The value with this key, if the meter sent it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.iter().find(|v| v.key == key)
    }

    /// The meter's equipment id, decoded when it is hex ASCII.
    pub fn equipment_id(&self) -> Option<&str> {
        let id = self.meter.equipment_id.as_ref()?;
        Some(id.decoded.as_deref().unwrap_or(&id.raw))
    }

    /// A default MQTT/Home Assistant id: the equipment id, else (meters that
    /// send none) the header's ident, reduced to `[A-Za-z0-9_-]`.
    pub fn default_id(&self) -> Option<String> {
        let source = match self.equipment_id() {
            Some(id) => id,
            None => self.meter.header.trim_start_matches('/'),
        };
        let safe: String = source
            .trim()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        (!safe.trim_matches('_').is_empty()).then_some(safe)
    }

    /// The declared version for people: `DSMR 5.0`, `DSMR 5.0.2, e-MUCS 1.7`.
    pub fn version(&self) -> Option<String> {
        self.meter.version_text()
    }

    /// Takes in one line; true when it became a value or identity.
    fn take(&mut self, line: &Line) -> bool {
        let Some(obis) = line.obis else {
            return false;
        };
        let first = line.fields.first().map(String::as_str);
        match obis {
            TIME if self.time.is_none() && line.fields.len() == 1 => {
                self.time = first.map(Timestamp::parse);
                return true;
            }
            VERSION if self.meter.version.is_none() => {
                self.meter.version = first.map(str::to_string);
                return true;
            }
            BELGIAN_VERSION if self.meter.belgian_version.is_none() => {
                self.meter.belgian_version = first.map(str::to_string);
                return true;
            }
            o if EQUIPMENT_IDS.contains(&o) && self.meter.equipment_id.is_none() => {
                let raw = first.unwrap_or_default().to_string();
                self.meter.equipment_id = (!raw.is_empty()).then(|| EquipmentId {
                    obis,
                    decoded: decode_hex_ascii(&raw),
                    raw,
                });
                return true;
            }
            _ => {}
        }
        match mbus::role(obis) {
            Some(Role::DeviceType | Role::EquipmentId) => true,
            Some(Role::Valve) => self.mbus_value(line, obis, true, None),
            Some(Role::Reading { time, value, unit }) => {
                self.mbus_value(line, obis, false, Some((time, value, unit)))
            }
            None => self.meter_value(line, obis),
        }
    }

    fn meter_value(&mut self, line: &Line, obis: Obis) -> bool {
        let Some((spec, tariff)) = catalog::lookup(obis) else {
            return false;
        };
        let (key, name) = match tariff {
            Some(t) => (
                format!("{}_tariff{t}", spec.key),
                format!("{}, tariff {t}", spec.name),
            ),
            None => (spec.key.to_string(), spec.name.to_string()),
        };
        let fields = &line.fields;
        let (data, unit, time) = if spec.key == "power_failure_log" {
            if fields.len() < 2 {
                return false;
            }
            (Data::Events(events(fields)), None, None)
        } else if spec.key.starts_with("text_message") {
            let [raw] = fields.as_slice() else {
                return false;
            };
            let text = decode_hex_ascii(raw).unwrap_or_else(|| raw.to_string());
            (Data::Text(text), None, None)
        } else {
            // `(value*unit)`, or `(timestamp)(value*unit)` for the month's peak.
            let (time, field) = match fields.as_slice() {
                [field] => (None, field),
                [time, field] if spec.key == "power_delivered_peak_month" => {
                    (Some(Timestamp::parse(time)), field)
                }
                _ => return false,
            };
            let (number, unit) = value_and_unit(field);
            let Some(number) = Number::parse(number) else {
                return false;
            };
            (Data::Number(number), unit.map(str::to_string), time)
        };
        self.push(Value {
            key,
            name,
            spec,
            obis,
            data,
            unit,
            time,
            channel: None,
        })
    }

    fn mbus_value(
        &mut self,
        line: &Line,
        obis: Obis,
        is_valve: bool,
        at: Option<(usize, usize, Option<usize>)>,
    ) -> bool {
        let Some(device) = self.mbus.iter().find(|d| d.channel == obis.b) else {
            return false;
        };
        if device.vacant && !is_valve {
            return false;
        }
        let Some((spec, key)) = mbus::key(&self.mbus, obis.b, is_valve) else {
            return false;
        };
        let (time, field, unit_field) = match at {
            Some((t, v, u)) => (
                line.fields.get(t).map(|t| Timestamp::parse(t)),
                line.fields.get(v),
                u.and_then(|u| line.fields.get(u)),
            ),
            None if line.fields.len() == 1 => (None, line.fields.first(), None),
            None => return false,
        };
        let Some((number, unit)) = field.map(|f| value_and_unit(f)) else {
            return false;
        };
        let Some(number) = Number::parse(number) else {
            return false;
        };
        let unit = unit
            .or(unit_field.map(String::as_str))
            .filter(|u| !u.is_empty());
        let name = if key == spec.key {
            spec.name.to_string()
        } else {
            format!("{}, channel {}", spec.name, obis.b)
        };
        self.push(Value {
            key,
            name,
            spec,
            obis,
            data: Data::Number(number),
            unit: unit.map(str::to_string),
            time,
            channel: Some(obis.b),
        })
    }

    /// Adds a value unless its key is taken: the first line wins, a
    /// repeated one stays in `lines` only.
    fn push(&mut self, value: Value) -> bool {
        if self.get(&value.key).is_some() {
            return false;
        }
        self.values.push(value);
        true
    }
}

/// `(count)(0-0:96.7.19)(end)(duration*s)...`: the pairs that are there.
fn events(fields: &[String]) -> Vec<PowerFailure> {
    let pairs = fields.get(2..).unwrap_or_default();
    pairs
        .chunks_exact(2)
        .filter_map(|pair| {
            let (number, unit) = value_and_unit(&pair[1]);
            Some(PowerFailure {
                end: Timestamp::parse(&pair[0]),
                duration: Number::parse(number)?,
                unit: unit.map(str::to_string),
            })
        })
        .collect()
}

/// Every value p1mux knows, the meter's and its M-Bus devices', for
/// documentation and tests.
pub fn specs() -> impl Iterator<Item = &'static catalog::Spec> {
    catalog::base().chain(mbus::specs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for spec in specs() {
            assert!(seen.insert(spec.key), "{} twice", spec.key);
            let ok = spec
                .key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            assert!(ok && !spec.key.starts_with('_'), "{}", spec.key);
            // A counter only grows; a metric has a state class, text has neither.
            if spec.metric == Some(catalog::MetricKind::Counter) {
                assert_eq!(
                    spec.state_class,
                    Some(catalog::StateClass::TotalIncreasing),
                    "{}",
                    spec.key
                );
            }
            if spec.metric.is_none() {
                assert_eq!(spec.state_class, None, "{}", spec.key);
            }
        }
        assert!(seen.len() > 50);
    }

    const DSMR50: &[u8] = include_bytes!("../../tests/data/dsmr50_iskra_am550_2mbus.txt");

    #[test]
    fn identity() {
        let r = Reading::parse(DSMR50);
        assert_eq!(r.meter.manufacturer.as_deref(), Some("ISK"));
        assert_eq!(r.meter.ident, "\\2M550T-1012");
        assert_eq!(r.version().as_deref(), Some("DSMR 5.0"));
        assert_eq!(r.equipment_id(), Some("E0044007382246019"));
        assert_eq!(r.default_id().as_deref(), Some("E0044007382246019"));
        assert_eq!(
            r.time.as_ref().and_then(Timestamp::rfc3339).as_deref(),
            Some("2020-04-26T22:33:25+02:00")
        );
        assert_eq!(r.checksum, "56DD");
    }

    #[test]
    fn repeated_lines_keep_the_first_value() {
        let r = Reading::parse(b"/X\r\n\r\n1-0:1.7.0(00.100*kW)\r\n1-0:1.7.0(00.200*kW)\r\n!\r\n");
        assert_eq!(r.get("power_delivered").and_then(Value::number), Some(0.1));
        assert_eq!((r.values.len(), r.lines.len()), (1, 2));
        assert!(r.lines[0].known && !r.lines[1].known);
    }

    #[test]
    fn default_id_without_an_equipment_id() {
        let r = Reading::parse(b"/ADN9 6534\r\n\r\n1-0:1.8.0(00007805.332*kWh)\r\n!95CB\r\n");
        assert_eq!(r.equipment_id(), None);
        assert_eq!(r.default_id().as_deref(), Some("ADN9_6534"));
        assert_eq!(Reading::parse(b"").default_id(), None);
    }
}
