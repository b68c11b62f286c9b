//! `/api/v1/data`: a [`Reading`] in HomeWizard's v1 shape (the HWE-P1
//! fields of docs/v1/measurement.mdx), built from what the telegram says.
//!
//! - A value the telegram lacks is left out, never sent as 0 or null.
//!   Three are derived: the import and export totals are the sum of the
//!   tariffs when the meter sends no `1.8.0`/`2.8.0`, as HomeWizard's own
//!   meter does (python-homewizard-energy would otherwise take tariff 1
//!   alone for the total); a meter with a total and no tariff registers
//!   (Luxembourg, Sweden) has that one register as tariff 1 (evcc sums
//!   `total_power_import_t*` and would read nothing); net power is
//!   delivered minus returned.
//! - Units: power in W and energy in kWh whatever scale the meter sends
//!   (DSMR's kW and kWh, Austria's W and Wh), converted exactly on the
//!   meter's digits ([`Decimal`]); a value in a unit that does not fit is
//!   left out rather than guessed.
//! - Timestamps are numbers `YYMMDDhhmmss`, only when the meter's is a
//!   real date: clients `strptime` them, and Fluvius sends `632525252525W`
//!   for a month without a peak.
//! - `external[]` lists the M-Bus devices HomeWizard has a type for (gas,
//!   water, warm water, heat, inlet heat), each with its equipment id and
//!   a valid timestamp (clients need both); Home Assistant reads gas only
//!   from there. `total_gas_m3`, `gas_timestamp` and `gas_unique_id` are
//!   the first gas meter, as HomeWizard sends them too.
//! - `wifi_ssid` and `wifi_strength` are always there: clients take an
//!   answer for v1 data only with `wifi_ssid`. p1mux is no Wi-Fi dongle:
//!   it says [`WIFI_SSID`] at full strength.

use super::decimal::Decimal;
use crate::json::Writer;
use crate::telegram::catalog::StateClass;
use crate::telegram::mbus::{Device, Kind};
use crate::telegram::{Data, Obis, Reading, Timestamp, Value};

/// What `wifi_ssid` says: the data comes over p1mux's own link.
pub const WIFI_SSID: &str = "p1mux (wired)";
/// `wifi_strength`, in percent.
pub const WIFI_STRENGTH: u8 = 100;

/// Net power, W: HomeWizard's field, the delivered and returned keys.
const POWER: [(&str, &str, &str); 4] = [
    ("active_power_w", "power_delivered", "power_returned"),
    (
        "active_power_l1_w",
        "power_delivered_l1",
        "power_returned_l1",
    ),
    (
        "active_power_l2_w",
        "power_delivered_l2",
        "power_returned_l2",
    ),
    (
        "active_power_l3_w",
        "power_delivered_l3",
        "power_returned_l3",
    ),
];

/// Values passed on with a unit check: HomeWizard's field, p1mux's key,
/// the unit wanted (None: a count, no unit).
#[rustfmt::skip]
const PLAIN: [(&str, &str, Option<&str>); 15] = [
    ("active_voltage_l1_v", "voltage_l1", Some("V")),
    ("active_voltage_l2_v", "voltage_l2", Some("V")),
    ("active_voltage_l3_v", "voltage_l3", Some("V")),
    ("active_current_l1_a", "current_l1", Some("A")),
    ("active_current_l2_a", "current_l2", Some("A")),
    ("active_current_l3_a", "current_l3", Some("A")),
    ("voltage_sag_l1_count", "voltage_sags_l1", None),
    ("voltage_sag_l2_count", "voltage_sags_l2", None),
    ("voltage_sag_l3_count", "voltage_sags_l3", None),
    ("voltage_swell_l1_count", "voltage_swells_l1", None),
    ("voltage_swell_l2_count", "voltage_swells_l2", None),
    ("voltage_swell_l3_count", "voltage_swells_l3", None),
    ("any_power_fail_count", "power_failures", None),
    ("long_power_fail_count", "power_failures_long", None),
    ("active_power_average_w", "power_delivered_average", Some("W")),
];

/// The `/api/v1/data` JSON of one telegram.
pub fn json(reading: &Reading) -> String {
    let mut w = Writer::new();
    w.begin_object();
    w.key("wifi_ssid").string(WIFI_SSID);
    w.key("wifi_strength").number(f64::from(WIFI_STRENGTH));
    if let Some(version) = smr_version(reading) {
        w.key("smr_version").number(f64::from(version));
    }
    let model = reading.meter.header.trim_start_matches('/');
    if !model.is_empty() {
        w.key("meter_model").string(model);
    }
    if let Some(id) = &reading.meter.equipment_id {
        w.key("unique_id").string(&id.raw);
    }
    if let Some(tariff) = reading.get("tariff").and_then(|v| scaled(v, None)) {
        w.key("active_tariff").raw_number(&tariff.json());
    }
    for (direction, key) in [
        ("import", "energy_delivered"),
        ("export", "energy_returned"),
    ] {
        let mut tariffs: Vec<(u8, Decimal)> = (1..=4)
            .filter_map(|t| {
                let value = reading.get(&format!("{key}_tariff{t}"))?;
                Some((t, scaled(value, Some("kWh"))?))
            })
            .collect();
        let total = match reading.get(key) {
            Some(v) => scaled(v, Some("kWh")),
            None => tariffs.iter().map(|(_, d)| *d).reduce(Decimal::add),
        };
        if let Some(total) = total {
            w.key(&format!("total_power_{direction}_kwh"))
                .raw_number(&total.json());
            // A meter without tariff registers has one: evcc sums
            // `total_power_import_t*` and would read nothing otherwise.
            if tariffs.is_empty() {
                tariffs.push((1, total));
            }
        }
        for (t, value) in tariffs {
            w.key(&format!("total_power_{direction}_t{t}_kwh"))
                .raw_number(&value.json());
        }
    }
    for (field, delivered, returned) in POWER {
        let delivered = reading.get(delivered).and_then(|v| scaled(v, Some("W")));
        let returned = reading.get(returned).and_then(|v| scaled(v, Some("W")));
        let net = match (delivered, returned) {
            (Some(d), Some(r)) => Some(d.sub(r)),
            (Some(d), None) => Some(d),
            (None, Some(r)) => Some(Decimal::default().sub(r)),
            (None, None) => None,
        };
        if let Some(net) = net {
            w.key(field).raw_number(&net.json());
        }
    }
    for (field, key, unit) in PLAIN {
        if let Some(value) = reading.get(key).and_then(|v| scaled(v, unit)) {
            w.key(field).raw_number(&value.json());
        }
    }
    if let Some(peak) = reading.get("power_delivered_peak_month")
        && let Some(watts) = scaled(peak, Some("W"))
    {
        w.key("montly_power_peak_w").raw_number(&watts.json());
        if let Some(at) = peak.time.as_ref().and_then(number_time) {
            w.key("montly_power_peak_timestamp").raw_number(&at);
        }
    }
    let devices = external(reading);
    if let Some(gas) = devices.iter().find(|d| d.kind == "gas_meter") {
        w.key("total_gas_m3").raw_number(&gas.value);
        if let Some(at) = &gas.timestamp {
            w.key("gas_timestamp").raw_number(at);
        }
        if let Some(id) = &gas.unique_id {
            w.key("gas_unique_id").string(id);
        }
    }
    let listed: Vec<&External> = devices
        .iter()
        .filter(|d| d.unique_id.is_some() && d.timestamp.is_some())
        .collect();
    if !listed.is_empty() {
        w.key("external").begin_array();
        for device in listed {
            w.begin_object();
            w.key("unique_id")
                .string(device.unique_id.as_deref().unwrap_or_default());
            w.key("type").string(device.kind);
            w.key("timestamp")
                .raw_number(device.timestamp.as_deref().unwrap_or_default());
            w.key("value").raw_number(&device.value);
            if let Some(unit) = &device.unit {
                w.key("unit").string(unit);
            }
            w.end_object();
        }
        w.end_array();
    }
    w.end_object();
    w.finish()
}

/// `1-3:0.2.8` (`50`), else the first two digits of Belgium's `0-0:96.1.4`
/// (`50217`: DSMR 5.0.2).
fn smr_version(reading: &Reading) -> Option<u8> {
    let meter = &reading.meter;
    let text = match (&meter.version, &meter.belgian_version) {
        (Some(v), _) => v.as_str(),
        (None, Some(b)) => b.get(..2)?,
        (None, None) => return None,
    };
    text.parse().ok()
}

/// The value in `unit` (a k or M prefix converted exactly); for `None`, a
/// count: the number as sent, when it came without a unit.
fn scaled(value: &Value, unit: Option<&str>) -> Option<Decimal> {
    let Data::Number(number) = &value.data else {
        return None;
    };
    let decimal = Decimal::of(number)?;
    let sent = value.unit.as_deref().unwrap_or("");
    let Some(unit) = unit else {
        return sent.is_empty().then_some(decimal);
    };
    let (from, base) = prefix(sent);
    let (to, want) = prefix(unit);
    base.eq_ignore_ascii_case(want)
        .then(|| decimal.shift(from - to))
}

/// A unit's power-of-ten prefix and base: `kWh` is (3, `Wh`); `V` is (0, `V`).
fn prefix(unit: &str) -> (i32, &str) {
    for (p, exp) in [("k", 3), ("M", 6)] {
        if let Some(base) = unit.strip_prefix(p)
            && ["W", "Wh"].iter().any(|b| b.eq_ignore_ascii_case(base))
        {
            return (exp, base);
        }
    }
    (0, unit)
}

/// `YYMMDDhhmmss` as a JSON number, for a valid date only.
fn number_time(time: &Timestamp) -> Option<String> {
    time.parsed?;
    let digits = time.raw.get(..12)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // JSON numbers have no leading zeros: 2000-2009 begins with one.
    let trimmed = digits.trim_start_matches('0');
    Some(if trimmed.is_empty() { "0" } else { trimmed }.to_string())
}

/// An M-Bus device as an `external[]` entry.
struct External {
    kind: &'static str,
    /// The equipment id as sent (hex), as HomeWizard passes it on.
    unique_id: Option<String>,
    timestamp: Option<String>,
    value: String,
    unit: Option<String>,
}

fn external(reading: &Reading) -> Vec<External> {
    reading
        .mbus
        .iter()
        .filter(|d| !d.vacant)
        .filter_map(|device| {
            let kind = external_type(device)?;
            let value = reading.values.iter().find(|v| {
                v.channel == Some(device.channel)
                    && v.spec.state_class == Some(StateClass::TotalIncreasing)
            })?;
            let Data::Number(number) = &value.data else {
                return None;
            };
            Some(External {
                kind,
                unique_id: raw_equipment_id(reading, device.channel),
                timestamp: value.time.as_ref().and_then(number_time),
                value: Decimal::of(number)?.json(),
                unit: value.unit.clone(),
            })
        })
        .collect()
}

/// HomeWizard's names for M-Bus device types; others are not listed.
fn external_type(device: &Device) -> Option<&'static str> {
    match (device.kind, device.device_type) {
        (Kind::Gas, _) => Some("gas_meter"),
        (Kind::Water, _) => Some("water_meter"),
        (Kind::HotWater, _) => Some("warm_water_meter"),
        (Kind::Heat, Some(12)) => Some("inlet_heat_meter"),
        (Kind::Heat, _) => Some("heat_meter"),
        _ => None,
    }
}

/// A channel's `0-n:96.1.0` (Belgium: `0-n:96.1.1`) exactly as sent.
fn raw_equipment_id(reading: &Reading, channel: u8) -> Option<String> {
    reading.lines.iter().find_map(|line| {
        let obis = line.obis?;
        let id = [
            Obis::new(0, channel, 96, 1, 0),
            Obis::new(0, channel, 96, 1, 1),
        ];
        let raw = line.fields.first()?;
        (id.contains(&obis) && !raw.is_empty()).then(|| raw.clone())
    })
}
