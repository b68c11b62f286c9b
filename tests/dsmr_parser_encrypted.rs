//! Home Assistant's DSMR integration reading an encrypted meter (a
//! Luxembourg Smarty) through p1mux: dsmr_parser's own TCP reader, over
//! TCP from a running p1mux, in both modes. Without a key p1mux passes the
//! frames through and dsmr_parser decrypts them with the key (meter type
//! MSn); with the key p1mux decrypts them, and dsmr_parser reads plain
//! telegrams without one (5L). Either way it must get the values of the
//! plaintext telegram.
//!
//! Needs a Python with dsmr_parser (`P1MUX_PYTHON`, else `python3`); see
//! tests/common/external.rs for what happens without it.

mod common;
#[path = "common/dsmr_parser.rs"]
mod dsmr_parser;
// This file uses a small part of the frame builder.
#[allow(dead_code)]
#[path = "encrypted/frames.rs"]
mod frames;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use common::external::{Tool, needs, plain, run};
use common::*;
use dsmr_parser::{Meter, Python, Reader, decimal, find_python};
use frames::{KEY_HEX, SMARTY_AK, lux, lux_frame, noise};

static DSMR_PARSER: Tool<Python> = Tool::new(
    "Home Assistant's dsmr_parser (Python), with its encrypted meter types",
    dsmr_parser::REQUIRE,
    dsmr_parser::INSTALL,
    || {
        find_python(
            "from dsmr_parser.clients.telegram_buffer import EncryptedTelegramBuffer; \
             from dsmr_parser import telegram_specifications as s; s.MSN",
            "dsmr_parser with its encrypted meter types",
        )
    },
);

fn main() -> ExitCode {
    let ha = |name, test| needs(&DSMR_PARSER, name, test);
    run(vec![
        ha(
            "home_assistant_with_the_key_reads_the_frames_p1mux_passes_through",
            pass_through,
        ),
        ha(
            "home_assistant_without_a_key_reads_the_telegrams_p1mux_decrypts",
            decrypted,
        ),
        plain("expected_values_come_from_the_telegram_text", values_check),
    ])
}

/// The value in the parentheses of the line for `obis`, as dsmr_parser
/// prints it (a Decimal without leading zeros, or the text).
fn value_of(telegram: &str, obis: &str) -> String {
    let line = telegram.lines().find(|l| l.starts_with(obis)).unwrap();
    let inner = &line[obis.len() + 1..];
    let text = inner.split(['*', ')']).next().unwrap();
    match text.contains('.') {
        true => decimal(text),
        false => text.to_string(),
    }
}

/// What Home Assistant must show for `telegram`.
fn expected(telegram: &[u8]) -> BTreeMap<String, String> {
    let text = std::str::from_utf8(telegram).unwrap();
    [
        ("imported", "1-0:1.8.0"),
        ("exported", "1-0:2.8.0"),
        ("power_used", "1-0:1.7.0"),
        ("power_delivered", "1-0:2.7.0"),
        ("voltage_l1", "1-0:32.7.0"),
        ("equipment", "0-0:42.0.0"),
    ]
    .into_iter()
    .map(|(key, obis)| (key.to_string(), value_of(text, obis)))
    .collect()
}

/// p1mux on a pty (`--key-file` when `p1mux_decrypts`), the reader
/// connected as `version`, three frames among noise: what it read of each
/// must be the values of that frame's telegram.
fn check(python: &Python, p1mux_decrypts: bool, version: &str) {
    let dir = TempDir::new(if p1mux_decrypts { "ha-plain" } else { "ha-enc" });
    let key = dir.0.join("key");
    std::fs::write(&key, KEY_HEX).unwrap();
    let mut args = vec!["--no-replay"];
    if p1mux_decrypts {
        args.extend(["--key-file", key.to_str().unwrap()]);
    }
    let (p1mux, mut pty, port) = P1mux::on_pty(&args);
    let ak: String = SMARTY_AK.iter().map(|b| format!("{b:02X}")).collect();
    let keys = (!p1mux_decrypts).then_some((KEY_HEX, ak.as_str()));
    let mut reader = Reader::start(python, port, version, 3, Meter::Smarty(keys));
    assert_eq!(reader.line(), "connected");
    p1mux.wait_for(" connected (");
    for n in 1..=3 {
        pty.write(&noise(n, 40));
        pty.write(&lux_frame(n));
        thread::sleep(Duration::from_millis(100));
    }
    for n in 1..=3 {
        let got = reader.values();
        assert_eq!(got, expected(&lux(n)), "telegram {n}");
    }
}

fn pass_through(python: &Python) {
    check(python, false, "MSn");
}

fn decrypted(python: &Python) {
    check(python, true, "5L");
}

fn values_check() {
    let want = expected(&lux(7));
    assert_eq!(want["imported"], "7.764");
    assert_eq!(want["exported"], "112743.030");
    assert_eq!(want["power_used"], "0.000");
    assert_eq!(want["voltage_l1"], "231.0");
    assert_eq!(want["equipment"], "53414731303330373030303132373031");
}
