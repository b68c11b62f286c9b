//! Home Assistant's DSMR integration reading p1mux: the Python library it
//! uses, dsmr_parser, connects with its TCP reader (connection type
//! "network") and must parse exactly the values the meter sent.
//!
//! Needs a Python with dsmr_parser: `P1MUX_PYTHON` names it (`.ci/run`
//! makes a throwaway virtualenv), else `python3`. Without dsmr_parser,
//! `cargo test` lists these tests as ignored and says why; with
//! `P1MUX_REQUIRE_ALL=1` (set by `.ci/run`) or `P1MUX_REQUIRE_DSMR_PARSER=1`
//! its absence fails them (see tests/common/external.rs).

mod common;
#[path = "common/dsmr_parser.rs"]
mod dsmr_parser;

use std::collections::BTreeMap;
use std::io::Read;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use common::external::{Tool, needs, plain, run};
use common::*;
use dsmr_parser::{Meter, Python, Reader, decimal, find_python};

static DSMR_PARSER: Tool<Python> = Tool::new(
    "Home Assistant's dsmr_parser (Python)",
    dsmr_parser::REQUIRE,
    dsmr_parser::INSTALL,
    || find_python("import dsmr_parser", "dsmr_parser"),
);

fn main() -> ExitCode {
    let ha = |name, test| needs(&DSMR_PARSER, name, test);
    run(vec![
        ha("dsmr_2_2_through_home_assistants_parser", dsmr_2_2),
        ha("dsmr_4_2_through_home_assistants_parser", dsmr_4_2),
        ha("dsmr_5_0_through_home_assistants_parser", dsmr_5_0),
        ha("demo_meter_through_home_assistants_parser", demo_meter),
        plain(
            "values_are_read_from_the_telegram_text",
            values_are_read_from_the_telegram_text,
        ),
    ])
}

/// The value in the first parentheses group of the line for `obis`, as
/// dsmr_parser prints a Decimal: no leading zeros, trailing ones kept.
fn value_of(telegram: &str, obis: &str) -> Option<String> {
    let line = telegram.lines().find(|l| l.starts_with(obis))?;
    let inner = line[obis.len()..].strip_prefix('(')?;
    Some(decimal(inner.split(['*', ')']).next()?))
}

/// The gas meter's reading, and for DSMR 4/5 its time stamp: DSMR 4/5 put
/// both on the 24.2.1 line of the M-Bus device that reads m3; DSMR 2.2
/// the reading on the line after 24.3.0.
fn gas_of(telegram: &str) -> Option<(String, Option<String>)> {
    let lines: Vec<&str> = telegram.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.get(3..).is_some_and(|l| l.starts_with(":24.3.0(")) {
            let next = lines.get(i + 1)?;
            return Some((decimal(next.trim_matches(['(', ')'])), None));
        }
    }
    let line = lines
        .iter()
        .rfind(|l| l.get(3..).is_some_and(|l| l.starts_with(":24.2.1(")) && l.ends_with("*m3)"))?;
    let reading = line.strip_suffix("*m3)")?.rsplit('(').next()?;
    let stamp = line.get(11..24)?;
    Some((decimal(reading), Some(utc_of(stamp))))
}

/// The UTC time a DSMR time stamp (YYMMDDhhmmssX, X = W for CET or S for
/// CEST) stands for, as Python writes it.
fn utc_of(stamp: &str) -> String {
    let n = |i: usize| stamp[i..i + 2].parse::<i64>().unwrap();
    let offset = if stamp.ends_with('S') { 2 } else { 1 };
    let (mut year, mut month, mut day, mut hour) = (2000 + n(0), n(2), n(4), n(6) - offset);
    if hour < 0 {
        hour += 24;
        day -= 1;
        if day == 0 {
            month -= 1;
            if month == 0 {
                (year, month) = (year - 1, 12);
            }
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
            day = [
                31,
                28 + i64::from(leap),
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ][month as usize - 1];
        }
    }
    let (minute, second) = (n(8), n(10));
    format!("{year}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}+00:00")
}

/// What Home Assistant must show for `telegram`.
fn expected(telegram: &[u8]) -> BTreeMap<String, String> {
    let text = std::str::from_utf8(telegram).unwrap();
    let mut want = BTreeMap::new();
    for (key, obis) in [
        ("used_t1", "1-0:1.8.1"),
        ("used_t2", "1-0:1.8.2"),
        ("delivered_t1", "1-0:2.8.1"),
        ("delivered_t2", "1-0:2.8.2"),
        ("power_used", "1-0:1.7.0"),
        ("power_delivered", "1-0:2.7.0"),
    ] {
        want.insert(key.to_string(), value_of(text, obis).unwrap());
    }
    let (gas, gas_time) = gas_of(text).unwrap();
    want.insert("gas".to_string(), gas);
    if let Some(at) = gas_time {
        want.insert("gas_time".to_string(), at);
    }
    if let Some(line) = text.lines().find(|l| l.starts_with("0-0:1.0.0(")) {
        want.insert("time".to_string(), utc_of(&line[10..23]));
    }
    want
}

/// Sends `telegram` three times through p1mux on a pty, each after noise
/// and a damaged copy, and checks what dsmr_parser made of each.
fn check(python: &Python, telegram: &[u8], damaged: &[u8], version: &str, serial: &[&str]) {
    let mut args = vec!["--no-replay"];
    args.extend_from_slice(serial);
    let (p1mux, mut pty, port) = P1mux::on_pty(&args);

    let mut reader = Reader::start(python, port, version, 3, Meter::Dutch);
    assert_eq!(reader.line(), "connected");
    p1mux.wait_for(" connected (");
    let want = expected(telegram);
    for _ in 0..3 {
        pty.write(b"\r\n\x00noise\r\n");
        pty.write(damaged);
        pty.write(telegram);
        thread::sleep(Duration::from_millis(100));
    }
    for i in 0..3 {
        let got = reader.values();
        assert_eq!(got, want, "telegram {i}, DSMR {version}");
    }
}

fn dsmr_2_2(python: &Python) {
    // No CRC: the damage p1mux can catch is a parity error, which a
    // driver honouring 7E1 delivers as NUL.
    let mut damaged = SAMPLES[0].to_vec();
    damaged[200] = 0;
    let serial = ["--baud", "9600", "--framing", "7e1"];
    check(python, SAMPLES[0], &damaged, "2.2", &serial);
}

fn dsmr_4_2(python: &Python) {
    check(
        python,
        SAMPLES[3],
        &corrupt(SAMPLES[3]),
        "4",
        &["--baud", "115200"],
    );
}

fn dsmr_5_0(python: &Python) {
    check(
        python,
        SAMPLES[5],
        &corrupt(SAMPLES[5]),
        "5",
        &["--baud", "115200"],
    );
}

/// The demo meter as Home Assistant reads it: what dsmr_parser makes of
/// each telegram is what that telegram says, time stamps included.
fn demo_meter(python: &Python) {
    let p1mux = P1mux::serve(&["--demo", "--no-replay"]);
    let port = p1mux.port();
    // A plain client alongside, to see the telegrams themselves.
    let mut raw = p1mux.connect(port);
    let mut reader = Reader::start(python, port, "5", 3, Meter::Dutch);
    assert_eq!(reader.line(), "connected");
    let got: Vec<_> = (0..3).map(|_| reader.values()).collect();
    let mut stream = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let sent: Vec<_> = telegrams(&stream).into_iter().map(expected).collect();
        if got.iter().all(|g| sent.contains(g)) {
            break;
        }
        match raw.read(&mut buf) {
            Ok(n) if n > 0 => stream.extend_from_slice(&buf[..n]),
            other => panic!("dsmr_parser made {got:?} of telegrams sent as {sent:?} ({other:?})"),
        }
    }
    for fields in &got {
        // The gas reading of DSMR 5 is stamped at a 5-minute mark.
        let at = &fields["gas_time"];
        let minute: u32 = at[14..16].parse().unwrap();
        assert!(
            minute.is_multiple_of(5) && at.ends_with(":00+00:00"),
            "{at}"
        );
    }
}

/// The telegrams in a stream of whole ones.
fn telegrams(stream: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(bang) = stream[start..].windows(3).position(|w| w == b"\r\n!") {
        let end = start + bang + 3 + 6; // "!XXXX\r\n"
        if end > stream.len() {
            break;
        }
        out.push(&stream[start..end]);
        start = end;
    }
    out
}

fn values_are_read_from_the_telegram_text() {
    let want = expected(SAMPLES[0]);
    assert_eq!(want["used_t1"], "16719.940");
    assert_eq!(want["power_used"], "0.89");
    assert_eq!(want["gas"], "13368.864");
    let want = expected(SAMPLES[5]);
    assert_eq!(want["delivered_t2"], "0.000");
    assert_eq!(want["gas"], "246.138");
    assert_eq!(want["time"], "2020-04-26T20:33:25+00:00");
    assert_eq!(want["gas_time"], "2020-04-26T20:30:01+00:00");
    assert_eq!(utc_of("260101003000W"), "2025-12-31T23:30:00+00:00");
    assert_eq!(utc_of("261025023000S"), "2026-10-25T00:30:00+00:00");
    assert_eq!(utc_of("261025023000W"), "2026-10-25T01:30:00+00:00");
}
