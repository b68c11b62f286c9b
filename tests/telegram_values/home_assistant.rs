//! Cross-check with Home Assistant's parser, dsmr_parser, on every sample:
//! each number it reads, p1mux reads too, with the same digits, unit and
//! timestamp. p1mux must never keep less than Home Assistant would.
//!
//! Needs a Python with dsmr_parser (`P1MUX_PYTHON`, else `python3`; `.ci/run`
//! installs one). Without it the test says so and passes, unless
//! `P1MUX_REQUIRE_DSMR_PARSER=1`, where its absence fails it.

use std::process::{Command, Stdio};

use p1mux::telegram::{Data, Reading};

use crate::SAMPLES;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/consumers/dsmr_parser_values.py"
);

/// The dsmr_parser specification that matches each sample.
fn spec_of(name: &str) -> &'static str {
    match name {
        n if n.starts_with("dsmr22") => "V2_2",
        n if n.starts_with("dsmr30") => "V3",
        n if n.starts_with("dsmr40") => "V4",
        n if n.starts_with("belgium") => "BELGIUM_FLUVIUS",
        n if n.starts_with("luxembourg") => "LUXEMBOURG_SMARTY",
        n if n.starts_with("sweden") => "SWEDEN",
        n if n.starts_with("austria") => "SAGEMCOM_T210_D_R",
        _ => "V5",
    }
}

/// Lines dsmr_parser reads a number from that deliberately give no value
/// here, and why.
fn not_a_value(name: &str, obis: &str, reading: &Reading) -> Option<&'static str> {
    let b = obis.split([':', '-']).nth(1).unwrap_or("0");
    match obis.split(':').nth(1).unwrap_or("") {
        "96.1.1" | "42.0.0" | "96.1.4" | "0.2.8" | "96.1.0" => Some("identity, in Reading::meter"),
        "24.1.0" => Some("M-Bus device type, in Reading::mbus"),
        "1.0.0" => Some("telegram time, in Reading::time"),
        _ if b != "0"
            && reading
                .mbus
                .iter()
                .any(|d| d.vacant && d.channel.to_string() == b) =>
        {
            Some("vacant M-Bus channel: its 00000000 is no reading")
        }
        "31.4.0" | "96.3.10" if name.starts_with("luxembourg") && b != "0" => {
            Some("Smarty's per-channel breaker and fuse lines: kept in Reading::lines")
        }
        _ => None,
    }
}

#[test]
fn agrees_with_home_assistants_dsmr_parser() {
    let python = std::env::var("P1MUX_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_it = Command::new(&python)
        .args(["-c", "import dsmr_parser"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_it {
        let required = std::env::var("P1MUX_REQUIRE_DSMR_PARSER").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "{python} cannot import dsmr_parser, and P1MUX_REQUIRE_DSMR_PARSER=1"
        );
        eprintln!(
            "SKIPPED agrees_with_home_assistants_dsmr_parser: {python} has no dsmr_parser \
             (pip install dsmr_parser, or set P1MUX_PYTHON; .ci/run does both)"
        );
        return;
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/");
    let args: Vec<String> = SAMPLES
        .iter()
        .map(|(n, _)| format!("{}={dir}{n}", spec_of(n)))
        .collect();
    let out = Command::new(&python)
        .arg(SCRIPT)
        .args(&args)
        .output()
        .expect("running python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut compared = 0;
    for ((name, bytes), line) in SAMPLES.iter().zip(stdout.lines()) {
        let doc: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(
            doc["error"].is_null(),
            "{name}: dsmr_parser failed: {}",
            doc["error"]
        );
        let reading = Reading::parse(bytes);
        for theirs in doc["values"].as_array().unwrap() {
            let obis = theirs["obis"].as_str().unwrap();
            let Some(text) = theirs["value"].as_str() else {
                continue; // text message None, event logs: below
            };
            let Ok(number) = text.parse::<f64>() else {
                continue; // hex equipment ids that are all digits parse; others are text
            };
            let ours = reading.values.iter().find(|v| v.obis.to_string() == obis);
            let Some(ours) = ours else {
                let why = not_a_value(name, obis, &reading);
                assert!(
                    why.is_some(),
                    "{name}: dsmr_parser reads {obis} = {text}, p1mux nothing"
                );
                continue;
            };
            let n = match &ours.data {
                Data::Number(n) => n,
                // Hex ASCII text that happens to be all digits, decoded here.
                Data::Text(t) => {
                    let decoded = p1mux::telegram::decode_hex_ascii(text);
                    assert_eq!(decoded.as_deref(), Some(t.as_str()), "{name} {obis}");
                    continue;
                }
                Data::Events(_) => panic!("{name}: {obis} is events here, {text} there"),
            };
            assert_eq!(n.value, number, "{name} {obis}");
            assert_eq!(
                ours.unit.as_deref(),
                theirs["unit"].as_str(),
                "{name} {obis}"
            );
            let our_time = ours.time.as_ref().and_then(|t| t.unix());
            if let (Some(t), Some(ours)) = (theirs["time"].as_i64(), our_time) {
                assert_eq!(ours, t, "{name} {obis} time");
            }
            compared += 1;
        }
        for theirs in doc["values"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["kind"] == "events")
        {
            let ours = reading.get("power_failure_log").expect("log");
            let Data::Events(events) = &ours.data else {
                panic!()
            };
            let theirs = theirs["value"].as_array().unwrap();
            assert_eq!(events.len(), theirs.len(), "{name}");
            for (e, t) in events.iter().zip(theirs) {
                assert_eq!(e.end.unix(), t[0].as_i64(), "{name}");
                assert_eq!(
                    Some(e.duration.value),
                    t[1].as_str().and_then(|d| d.parse().ok())
                );
            }
        }
    }
    assert!(compared > 200, "only {compared} values compared");
    eprintln!("dsmr_parser and p1mux agree on {compared} values");
}
