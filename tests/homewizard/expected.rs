//! What a HomeWizard client must read for a telegram, worked out from the
//! telegram's text here (none of p1mux's parsing): python-homewizard-
//! energy's field names, power in W, energy in kWh, whatever scale the
//! meter sent.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// A telegram's lines, looked up by OBIS id.
pub struct Text<'a>(pub &'a str);

impl Text<'_> {
    /// The fields in parentheses of the line for `obis`.
    pub fn fields(&self, obis: &str) -> Option<Vec<&str>> {
        let lines: Vec<&str> = self.0.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.starts_with(&format!("{obis}(")))?;
        let mut fields: Vec<&str> = lines[at][obis.len()..]
            .split(['(', ')'])
            .filter(|f| !f.is_empty())
            .collect();
        // DSMR 2.2: the gas reading comes on the next line, `(13368.864)`.
        if let Some(next) = lines.get(at + 1).filter(|l| l.starts_with('(')) {
            fields.push(next.trim_matches(['(', ')']));
        }
        Some(fields)
    }

    /// Field `i` (from the end when negative) as number and unit.
    fn number(&self, obis: &str, from_end: usize) -> Option<(f64, String)> {
        let fields = self.fields(obis)?;
        let field = fields.get(fields.len().checked_sub(1 + from_end)?)?;
        let (n, unit) = field.split_once('*').unwrap_or((field, ""));
        Some((n.parse().ok()?, unit.to_string()))
    }

    fn watts(&self, obis: &str) -> Option<f64> {
        let (n, unit) = self.number(obis, 0)?;
        match unit.as_str() {
            "kW" => Some(n * 1000.0),
            "W" => Some(n),
            other => panic!("{obis}: unit {other}"),
        }
    }

    fn kwh(&self, obis: &str) -> Option<f64> {
        let (n, unit) = self.number(obis, 0)?;
        match unit.as_str() {
            "kWh" => Some(n),
            "Wh" => Some(n / 1000.0),
            other => panic!("{obis}: unit {other}"),
        }
    }

    fn plain(&self, obis: &str) -> Option<f64> {
        self.number(obis, 0).map(|(n, _)| n)
    }
}

/// `200509134558S` as Python prints a datetime: `2020-05-09 13:45:58`.
fn datetime(stamp: &str) -> String {
    let d = |i: usize| &stamp[i..i + 2];
    format!("20{}-{}-{} {}:{}:{}", d(0), d(2), d(4), d(6), d(8), d(10))
}

/// Hex ASCII decoded, as the library does with ids.
fn decoded(hex: &str) -> String {
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect();
    bytes
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_else(|| hex.to_string())
}

/// Net power: delivered minus returned, W.
fn net(t: &Text, delivered: &str, returned: &str) -> Option<f64> {
    match (t.watts(delivered), t.watts(returned)) {
        (None, None) => None,
        (d, r) => Some(d.unwrap_or(0.0) - r.unwrap_or(0.0)),
    }
}

/// python-homewizard-energy's fields for `telegram` (6.x's names, see
/// tests/consumers/homewizard_reader.py), as `library` (its version) reads
/// them; fields not here must read None.
pub fn data(telegram: &[u8], library: &str) -> BTreeMap<&'static str, Value> {
    let mut want = fields(telegram);
    // From 7.0 gas is read from `external` alone, as Home Assistant does.
    let major: u32 = library.split('.').next().unwrap().parse().unwrap();
    if major >= 7 {
        for old in ["total_gas_m3", "gas_timestamp", "gas_unique_id"] {
            want.remove(old);
        }
    }
    want
}

fn fields(telegram: &[u8]) -> BTreeMap<&'static str, Value> {
    let text = std::str::from_utf8(telegram).unwrap();
    let t = Text(text);
    let mut want: BTreeMap<&'static str, Value> = BTreeMap::new();
    let mut put = |k: &'static str, v: Option<Value>| {
        if let Some(v) = v {
            want.insert(k, v);
        }
    };
    put("wifi_ssid", Some(json!("p1mux (wired)")));
    put("wifi_strength", Some(json!(100)));
    let version = t.fields("1-3:0.2.8").map(|f| f[0].to_string());
    let belgian = t.fields("0-0:96.1.4").map(|f| f[0][..2].to_string());
    put(
        "smr_version",
        version
            .or(belgian)
            .map(|v| json!(v.parse::<u32>().unwrap())),
    );
    let header = text.lines().next().unwrap();
    put("meter_model", Some(json!(header.trim_start_matches('/'))));
    let id = t.fields("0-0:96.1.1").or_else(|| t.fields("0-0:42.0.0"));
    put("unique_meter_id", id.map(|f| json!(decoded(f[0]))));
    put("active_tariff", t.plain("0-0:96.14.0").map(|n| json!(n)));
    for (c, total, tariff) in [
        (
            1,
            "total_energy_import_kwh",
            [
                "total_energy_import_t1_kwh",
                "total_energy_import_t2_kwh",
                "total_energy_import_t3_kwh",
                "total_energy_import_t4_kwh",
            ],
        ),
        (
            2,
            "total_energy_export_kwh",
            [
                "total_energy_export_t1_kwh",
                "total_energy_export_t2_kwh",
                "total_energy_export_t3_kwh",
                "total_energy_export_t4_kwh",
            ],
        ),
    ] {
        let tariffs: Vec<Option<f64>> = (1..=4).map(|e| t.kwh(&format!("1-0:{c}.8.{e}"))).collect();
        let sum = tariffs.iter().flatten().copied().reduce(|a, b| a + b);
        let all = t.kwh(&format!("1-0:{c}.8.0")).or(sum);
        put(total, all.map(|v| json!(v)));
        for (e, field) in tariff.into_iter().enumerate() {
            // A meter with no tariff registers has its one register as tariff 1.
            let v = if sum.is_none() && e == 0 {
                all
            } else {
                tariffs[e]
            };
            put(field, v.map(|v| json!(v)));
        }
    }
    put(
        "active_power_w",
        net(&t, "1-0:1.7.0", "1-0:2.7.0").map(|v| json!(v)),
    );
    for (l, d, r) in [("l1", 21, 22), ("l2", 41, 42), ("l3", 61, 62)] {
        let field = match l {
            "l1" => "active_power_l1_w",
            "l2" => "active_power_l2_w",
            _ => "active_power_l3_w",
        };
        put(
            field,
            net(&t, &format!("1-0:{d}.7.0"), &format!("1-0:{r}.7.0")).map(|v| json!(v)),
        );
    }
    #[rustfmt::skip]
    let plain = [
        ("active_voltage_l1_v", "1-0:32.7.0"), ("active_voltage_l2_v", "1-0:52.7.0"),
        ("active_voltage_l3_v", "1-0:72.7.0"), ("active_current_l1_a", "1-0:31.7.0"),
        ("active_current_l2_a", "1-0:51.7.0"), ("active_current_l3_a", "1-0:71.7.0"),
        ("voltage_sag_l1_count", "1-0:32.32.0"), ("voltage_sag_l2_count", "1-0:52.32.0"),
        ("voltage_sag_l3_count", "1-0:72.32.0"), ("voltage_swell_l1_count", "1-0:32.36.0"),
        ("voltage_swell_l2_count", "1-0:52.36.0"), ("voltage_swell_l3_count", "1-0:72.36.0"),
        ("any_power_fail_count", "0-0:96.7.21"), ("long_power_fail_count", "0-0:96.7.9"),
    ];
    for (field, obis) in plain {
        put(field, t.plain(obis).map(|v| json!(v)));
    }
    put(
        "active_power_average_w",
        t.watts("1-0:1.4.0").map(|v| json!(v)),
    );
    if let Some(peak) = t.fields("1-0:1.6.0") {
        put(
            "monthly_power_peak_w",
            t.watts("1-0:1.6.0").map(|v| json!(v)),
        );
        put(
            "monthly_power_peak_timestamp",
            Some(json!(datetime(peak[0]))),
        );
    }
    let mut external = serde_json::Map::new();
    for n in 1..=4 {
        let Some(kind) = t.fields(&format!("0-{n}:24.1.0")) else {
            continue;
        };
        let kind = match kind[0].trim_start_matches('0') {
            "3" => "gas_meter",
            "7" => "water_meter",
            other => panic!("device type {other}"),
        };
        let reading = ["24.2.1", "24.2.3", "24.3.0"]
            .iter()
            .find_map(|o| t.fields(&format!("0-{n}:{o}")))
            .unwrap();
        let (stamp, value) = (reading[0], *reading.last().unwrap());
        let (value, unit) = match value.split_once('*') {
            Some((v, u)) => (v, u),
            None => (value, reading[reading.len() - 2]),
        };
        if unit.is_empty() || !unit.starts_with('m') {
            continue; // a vacant channel
        }
        let id = t
            .fields(&format!("0-{n}:96.1.0"))
            .or_else(|| t.fields(&format!("0-{n}:96.1.1")));
        let id = decoded(id.unwrap()[0]);
        let value: f64 = value.parse().unwrap();
        if kind == "gas_meter" && !want.contains_key("total_gas_m3") {
            want.insert("total_gas_m3", json!(value));
            want.insert("gas_timestamp", json!(datetime(stamp)));
            want.insert("gas_unique_id", json!(id.clone()));
        }
        external.insert(
            format!("{kind}_{id}"),
            json!({"unique_id": id, "type": kind, "value": value, "unit": unit,
                   "timestamp": datetime(stamp)}),
        );
    }
    if !external.is_empty() {
        want.insert("external_devices", Value::Object(external));
    }
    want
}

/// Equal, numbers to a millionth (sums of the meter's decimals in floats).
pub fn same(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => {
            (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-6
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| same(v, w)))
        }
        (a, b) => a == b,
    }
}
