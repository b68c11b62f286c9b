//! What a published state must say, judged from the telegram's own text
//! (not from p1mux's parser), and what Home Assistant needs of discovery.

use serde_json::Value;

/// The data lines of a telegram, continuation lines (DSMR 2.2 gas, whose
/// reading is on a line of its own starting with '(') joined to theirs.
fn logical_lines(telegram: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for line in telegram.lines().skip(1) {
        match lines.last_mut() {
            Some(last) if line.starts_with('(') => last.push_str(line),
            _ if line.is_empty() || line.starts_with('!') => {}
            _ => lines.push(line.to_string()),
        }
    }
    lines
}

/// The `(...)` groups of a line.
fn fields(line: &str) -> Vec<&str> {
    line.split('(')
        .skip(1)
        .map(|f| f.trim_end_matches(')'))
        .collect()
}

/// `0-0:1.0.0(200512135409S)` as RFC 3339.
fn meter_time(raw: &str) -> String {
    let d = |i: usize| &raw[i..i + 2];
    let offset = if raw.ends_with('S') {
        "+02:00"
    } else {
        "+01:00"
    };
    format!(
        "20{}-{}-{}T{}:{}:{}{offset}",
        d(0),
        d(2),
        d(4),
        d(6),
        d(8),
        d(10)
    )
}

fn hex_text(hex: &str) -> Option<String> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// Checks every value of a state JSON against the telegram it came from,
/// and that every energy, power, voltage, current and M-Bus reading of the
/// telegram is in it. Returns the number of values checked.
pub fn state_matches(telegram: &[u8], state: &Value) -> usize {
    let text = std::str::from_utf8(telegram).unwrap();
    let lines = logical_lines(text);
    let received = state["received"].as_str().expect("received");
    assert!(
        received.ends_with('Z') && received.len() == 24,
        "{received}"
    );
    match lines.iter().find_map(|l| l.strip_prefix("0-0:1.0.0(")) {
        Some(raw) => assert_eq!(state["time"], meter_time(&raw[..13]), "the meter's time"),
        None => assert!(state.get("time").is_none(), "no meter time, none made up"),
    }
    assert_eq!(state["meter"]["header"], text.lines().next().unwrap());
    let values = state["values"].as_object().expect("values");
    for (key, v) in values {
        let obis = v["obis"].as_str().expect("obis");
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("{obis}(")))
            .unwrap_or_else(|| panic!("{key}: no line {obis} in the telegram"));
        let f = fields(line);
        match &v["value"] {
            Value::Number(n) => {
                let last = f.last().unwrap();
                let (digits, unit) = last
                    .split_once('*')
                    .map_or((*last, None), |(d, u)| (d, Some(u)));
                let sent: f64 = digits.parse().unwrap_or_else(|_| panic!("{key}: {line}"));
                assert_eq!(n.as_f64(), Some(sent), "{key}: {line}");
                let unit =
                    unit.or_else(|| f.iter().rev().nth(1).copied().filter(|u| !u.contains(':')));
                assert_eq!(
                    v["unit"].as_str(),
                    unit.filter(|u| !u.is_empty()),
                    "{key}: {line}"
                );
            }
            Value::String(s) => {
                let raw = f.last().unwrap();
                assert!(
                    *s == *raw || Some(s.clone()) == hex_text(raw),
                    "{key}: {s:?} vs {line}"
                );
            }
            Value::Array(events) => {
                // (count)(0-0:96.7.19)(end)(duration)...: one event per pair.
                assert_eq!(events.len(), (f.len() - 2) / 2, "{key}: {line}");
                for e in events {
                    let d = e["duration"].as_f64().unwrap();
                    assert!(
                        f.iter()
                            .any(|x| x.split('*').next().and_then(|n| n.parse::<f64>().ok())
                                == Some(d)),
                        "{key}: {d}"
                    );
                }
            }
            other => panic!("{key}: unexpected value {other}"),
        }
    }
    // Nothing measured is left out.
    for line in &lines {
        let obis = line.split('(').next().unwrap();
        let measured = obis.starts_with("1-0:") && (obis.contains(".8.") || obis.ends_with(".7.0"))
            || obis.starts_with("0-") && obis.contains(":24.2.")
            || obis.starts_with("0-") && obis.ends_with(":24.3.0");
        // An empty M-Bus channel: no reading, a zero dated 1970.
        let vacant = line.contains("(700101");
        if measured && !vacant {
            assert!(
                values.values().any(|v| v["obis"] == obis),
                "{obis} is in the telegram but not in the state"
            );
        }
    }
    values.len()
}

/// Home Assistant's rules for the discovery config of one device, checked
/// against the state it reads.
pub fn discovery_is_well_formed(config: &Value, id: &str, state: &Value, header: &str) {
    let device_id = format!("p1mux_{id}");
    assert_eq!(config["device"]["identifiers"][0], device_id);
    assert_eq!(config["device"]["model"], header.trim_start_matches('/'));
    assert_eq!(config["state_topic"], format!("p1mux/{id}/state"));
    assert_eq!(
        config["availability_topic"],
        format!("p1mux/{id}/availability")
    );
    let components = config["components"].as_object().expect("components");
    let values = state["values"].as_object().unwrap();
    let mut unique = std::collections::HashSet::new();
    for (key, c) in components {
        assert_eq!(c["platform"], "sensor", "{key}");
        assert!(
            unique.insert(c["unique_id"].as_str().unwrap().to_string()),
            "{key}: unique_id twice"
        );
        assert!(c["unique_id"].as_str().unwrap().starts_with(&device_id));
        assert!(c["name"].as_str().is_some_and(|n| !n.is_empty()), "{key}");
        let template = c["value_template"].as_str().unwrap();
        if key == "time" {
            assert_eq!(c["device_class"], "timestamp");
            assert!(state["time"].is_string());
            continue;
        }
        assert!(
            template.contains(&format!("['values']['{key}']['value']")),
            "{key}: {template}"
        );
        let value = &values[key.as_str()];
        assert!(
            !value.is_null(),
            "{key}: a sensor for a value the meter does not send"
        );
        if c["device_class"] == "enum" {
            // A state from a list (the tariff): no unit, no state class.
            let options = c["options"].as_array().expect("an enum has options");
            assert!(!options.is_empty(), "{key}");
            assert!(c["unit_of_measurement"].is_null() && c["state_class"].is_null());
            continue;
        }
        let class = c["device_class"].as_str();
        let total = matches!(class, Some("energy" | "gas" | "water"));
        if let Some(class) = class {
            let allowed = [
                "energy",
                "gas",
                "water",
                "power",
                "reactive_power",
                "apparent_power",
                "voltage",
                "current",
            ];
            assert!(allowed.contains(&class), "{key}: {class}");
            assert!(
                c["unit_of_measurement"].is_string(),
                "{key}: a class needs a unit"
            );
            let want = if total {
                "total_increasing"
            } else {
                "measurement"
            };
            assert_eq!(c["state_class"], want, "{key}");
        }
        if let Some(unit) = value["unit"].as_str() {
            let ha = if unit == "m3" { "m³" } else { unit };
            assert!(
                c["unit_of_measurement"]
                    .as_str()
                    .unwrap()
                    .eq_ignore_ascii_case(ha),
                "{key}"
            );
        }
    }
    for (key, v) in values {
        if !v["value"].is_array() {
            assert!(components.contains_key(key), "{key} has no sensor");
        }
    }
}
