//! The HomeWizard API as its clients read it: python-homewizard-energy
//! (the library of Home Assistant's `homewizard` integration) reads every
//! sensor equal to the telegram, for each kind of meter; evcc's
//! `homewizard` template expressions, run with jq, give the telegram's
//! power and import total; a silent meter makes the library fail, so Home
//! Assistant marks the values unavailable.
//!
//! Needs a Python with python-homewizard-energy (`P1MUX_PYTHON`, else
//! `python3`) and jq; see tests/common/external.rs for what happens
//! without them.

#[path = "http/client.rs"]
mod client;
mod common;
#[path = "common/dsmr_parser.rs"]
mod dsmr_parser;
#[path = "homewizard/expected.rs"]
mod expected;
#[allow(dead_code)]
#[path = "encrypted/frames.rs"]
mod frames;
#[path = "homewizard/python.rs"]
mod python;

use std::process::{Command, ExitCode};
use std::thread;
use std::time::{Duration, Instant};

use client::{Gateway, get, start};
use common::external::{Tool, needs, plain, run};
use common::*;
use python::Python;
use serde_json::Value;

const READER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/consumers/homewizard_reader.py"
);

static HOMEWIZARD: Tool<Python> = Tool::new(
    "python-homewizard-energy (Home Assistant's HomeWizard library)",
    "P1MUX_REQUIRE_HOMEWIZARD",
    python::INSTALL,
    || python::find("import homewizard_energy", "homewizard_energy"),
);

static JQ: Tool<()> =
    Tool::new(
        "jq",
        "P1MUX_REQUIRE_JQ",
        "apt-get install jq",
        || match Command::new("jq").arg("--version").output() {
            Ok(o) if o.status.success() => Ok(()),
            Ok(_) => Err("jq --version failed".into()),
            Err(e) => Err(format!("cannot run jq: {e}")),
        },
    );

/// The sample meters: name, what p1mux reads, the telegram inside, and
/// whether it needs the key.
fn meters() -> Vec<(&'static str, Vec<u8>, Vec<u8>, bool)> {
    let file = |name: &str| {
        std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    };
    let plain = |name: &'static str, f: &str| (name, file(f), file(f), false);
    vec![
        plain("dutch_dsmr5_with_gas", "dsmr50_iskra_am550_2mbus.txt"),
        plain(
            "belgian_with_peaks_gas_and_water",
            "belgium_fluvius_emucs171_gas_water.txt",
        ),
        (
            "luxembourg_decrypted",
            frames::lux_frame(5),
            frames::lux(5),
            true,
        ),
        plain("swedish", "sweden_aidon_6534.txt"),
        plain("austrian_wh_and_w", "austria_sagemcom_t210dr.txt"),
        plain("dsmr22_with_gas", "dsmr22_iskra_mt382-1003.txt"),
    ]
}

/// p1mux with `bytes` read from its meter, once `/api/v1/data` serves it.
fn serving(bytes: &[u8], keyed: bool) -> (Gateway, TempDir) {
    let dir = TempDir::new("homewizard");
    let key = dir.0.join("key");
    std::fs::write(&key, frames::KEY_HEX).unwrap();
    let args: Vec<&str> = match keyed {
        true => vec!["--key-file", key.to_str().unwrap()],
        false => vec![],
    };
    let mut g = start(&args);
    g.pty.write(bytes);
    let deadline = Instant::now() + PATIENCE;
    while get(g.http, "/api/v1/data").status != 200 {
        assert!(Instant::now() < deadline, "{}", g.p1mux.log_text());
        thread::sleep(Duration::from_millis(20));
    }
    (g, dir)
}

/// What the library read: `{"device": ..., "data": ...}`.
fn read(python: &Python, http: u16, mode: &str) -> Value {
    let out = Command::new(&python.0)
        .args([READER, &format!("127.0.0.1:{http}"), mode])
        .output()
        .expect("running the reader");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn reads_every_sensor(python: &Python, meter: usize) {
    let (name, bytes, telegram, keyed) = meters().swap_remove(meter);
    let (g, _dir) = serving(&bytes, keyed);
    let got = read(python, g.http, "read");
    let device = &got["device"];
    assert_eq!(device["product_type"], "HWE-P1", "{name}");
    // 7.x and later read "v1" as a version: 1.0.0.
    let api = device["api_version"].as_str().unwrap();
    assert!(api == "v1" || api == "1.0.0", "{api}");
    let library = got["library"].as_str().unwrap();
    let serial = device["serial"].as_str().unwrap();
    assert!(
        serial.len() == 12 && serial.bytes().all(|b| b.is_ascii_hexdigit()),
        "{serial}"
    );
    let want = expected::data(&telegram, library);
    let data = got["data"].as_object().unwrap();
    for (field, value) in data {
        match want.get(field.as_str()) {
            Some(w) => assert!(
                expected::same(value, w),
                "{name}: {field} is {value}, not {w}"
            ),
            None => assert!(
                value.is_null(),
                "{name}: {field} is {value}: not in the telegram"
            ),
        }
    }
    for field in want.keys() {
        assert!(
            data.contains_key(*field),
            "{name}: the library has no {field}"
        );
    }
    println!(
        "{name}, python-homewizard-energy {library}: {} fields: {:?}",
        want.len(),
        want.keys().collect::<Vec<_>>()
    );
}

/// evcc's `homewizard` meter template: power is `.active_power_w`, energy
/// the sum of the `total_power_import_t*` values.
fn evcc_reads_power_and_import(_: &()) {
    const POWER: &str = ".active_power_w";
    const ENERGY: &str =
        r#"[to_entries[] | select(.key|startswith("total_power_import_t")) | .value] | add"#;
    for (name, bytes, telegram, keyed) in meters() {
        let (g, _dir) = serving(&bytes, keyed);
        let body = get(g.http, "/api/v1/data").body;
        let jq = |expression: &str| -> f64 {
            let mut child = Command::new("jq")
                .arg(expression)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            child.stdin.take().unwrap().write_all(&body).unwrap();
            let out = child.wait_with_output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            text.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{name}: {expression} gave {text}"))
        };
        let want = expected::data(&telegram, "6");
        let power = want["active_power_w"].as_f64().unwrap();
        let import = want["total_energy_import_kwh"].as_f64().unwrap();
        assert_eq!(jq(POWER), power, "{name}");
        assert!(
            (jq(ENERGY) - import).abs() < 1e-6,
            "{name}: {} vs {import}",
            jq(ENERGY)
        );
        println!("{name}: evcc reads {power} W, {import} kWh");
    }
}

/// Telegrams a second apart, then silence: within 3.5 s of the last one
/// `/api/v1/data` answers 503, the library raises, and the next telegram
/// brings the values back at once.
fn silent_meter_is_unavailable(python: &Python) {
    let sample = SAMPLES[5];
    let (mut g, _dir) = serving(sample, false);
    for _ in 0..3 {
        thread::sleep(Duration::from_secs(1));
        g.pty.write(sample);
    }
    let last = Instant::now();
    assert_eq!(read(python, g.http, "stale")["result"], "ok");
    let stale = loop {
        let reply = get(g.http, "/api/v1/data");
        if reply.status == 503 {
            break reply;
        }
        assert!(
            last.elapsed() < Duration::from_secs(6),
            "still 200 after {:?}",
            last.elapsed()
        );
        thread::sleep(Duration::from_millis(50));
    };
    let after = last.elapsed();
    println!("stale after {after:?} of silence: {}", stale.text());
    assert!(after > Duration::from_millis(3000), "too eager: {after:?}");
    assert_eq!(stale.header("retry-after"), Some("1"));
    let error: Value = serde_json::from_slice(&stale.body).unwrap();
    assert_eq!(error["error"]["id"], 901);
    let got = read(python, g.http, "stale");
    assert_eq!(got["result"], "RequestError", "{got}");
    g.pty.write(sample);
    let deadline = Instant::now() + PATIENCE;
    while get(g.http, "/api/v1/data").status != 200 {
        assert!(Instant::now() < deadline);
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(read(python, g.http, "stale")["result"], "ok");
}

/// Encrypted frames and no key: the answer says what is missing.
fn encrypted_without_a_key() {
    let mut g = start(&[]);
    g.pty.write(&frames::lux_frame(1));
    g.p1mux.wait_for("encrypted");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let reply = get(g.http, "/api/v1/data");
        assert_eq!(reply.status, 503);
        if reply.text().contains("--key-file") {
            break;
        }
        assert!(Instant::now() < deadline, "{}", reply.text());
        thread::sleep(Duration::from_millis(20));
    }
}

fn main() -> ExitCode {
    let mut trials = Vec::new();
    for (i, (name, ..)) in meters().into_iter().enumerate() {
        let test: fn(&Python) = [
            |p: &Python| reads_every_sensor(p, 0),
            |p: &Python| reads_every_sensor(p, 1),
            |p: &Python| reads_every_sensor(p, 2),
            |p: &Python| reads_every_sensor(p, 3),
            |p: &Python| reads_every_sensor(p, 4),
            |p: &Python| reads_every_sensor(p, 5),
        ][i];
        trials.push(needs(
            &HOMEWIZARD,
            &format!("python_homewizard_energy_reads_{name}"),
            test,
        ));
    }
    trials.push(needs(
        &JQ,
        "evcc_expressions_read_power_and_import_total",
        evcc_reads_power_and_import,
    ));
    trials.push(needs(
        &HOMEWIZARD,
        "a_silent_meter_is_unavailable",
        silent_meter_is_unavailable,
    ));
    trials.push(plain(
        "encrypted_frames_without_a_key_say_so",
        encrypted_without_a_key,
    ));
    run(trials)
}
