//! Home Assistant's own code is the judge: dsmr_parser reads the frames
//! the splitter passes through (with the key, as HA decrypts them) and the
//! telegrams p1mux decrypts (without one), and both give the values of the
//! plaintext telegram. Its parts are the ones its TCP reader uses for an
//! encrypted meter: EncryptedTelegramBuffer, then TelegramParser with the
//! key; TelegramBuffer and TelegramParser for text. (The whole path, over
//! TCP from a running p1mux, comes with the gateway.)
//!
//! Needs a Python with dsmr_parser, as tests/dsmr_parser.rs does:
//! `P1MUX_PYTHON` names it, else `python3`; without it the test says so and
//! passes, unless `P1MUX_REQUIRE_DSMR_PARSER=1` (set by `.ci/run`).

use std::io::Write;
use std::process::{Command, Stdio};

use crate::frames::*;

const SCRIPT: &str = r#"
import sys
from copy import deepcopy
from dsmr_parser import telegram_specifications
from dsmr_parser.clients.telegram_buffer import EncryptedTelegramBuffer, TelegramBuffer
from dsmr_parser.parsers import TelegramParser

key, ak = sys.argv[1], sys.argv[2]
encrypted = deepcopy(telegram_specifications.V5)
encrypted["general_global_cipher"] = True
for line in sys.stdin:
    mode, data = line.split()
    data = bytes.fromhex(data)
    if mode == "enc":
        buffer, parser = EncryptedTelegramBuffer(), TelegramParser(encrypted)
        buffer.append(data)
        telegrams = [parser.parse(frame, key, ak) for frame in buffer.get_all()]
    else:
        buffer, parser = TelegramBuffer(), TelegramParser(telegram_specifications.V5)
        buffer.append(data.decode("ascii"))
        telegrams = [parser.parse(t) for t in buffer.get_all()]
    for telegram in telegrams:
        print(mode, telegram.to_json(), flush=True)
"#;

fn python() -> Option<String> {
    let python = std::env::var("P1MUX_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_it = Command::new(&python)
        .args([
            "-c",
            "import dsmr_parser.clients.telegram_buffer as b; b.EncryptedTelegramBuffer",
        ])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if has_it {
        return Some(python);
    }
    let required = std::env::var("P1MUX_REQUIRE_DSMR_PARSER").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "{python} cannot import dsmr_parser with encrypted frames"
    );
    eprintln!("skipped: {python} has no dsmr_parser with EncryptedTelegramBuffer (run .ci/run)");
    None
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Each (mode, bytes) through dsmr_parser: (mode, telegram as JSON) lines.
fn dsmr_parser(python: &str, inputs: &[(&str, Vec<u8>)]) -> Vec<(String, String)> {
    let mut child = Command::new(python)
        .args(["-c", SCRIPT, KEY_HEX, &hex(&SMARTY_AK)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting python");
    let mut stdin = child.stdin.take().unwrap();
    for (mode, bytes) in inputs {
        writeln!(stdin, "{mode} {}", hex(bytes)).unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "dsmr_parser failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (mode, json) = l.split_once(' ').unwrap();
            (mode.to_string(), json.to_string())
        })
        .collect()
}

#[test]
fn home_assistant_reads_both_streams_and_gets_the_plaintext_values() {
    let Some(python) = python() else { return };
    // Smarty frames use the 0x82 form, the only one dsmr_parser frames.
    let frames: Vec<Vec<u8>> = SAMPLES
        .iter()
        .enumerate()
        .map(|(i, s)| frame(Form::Long2, 100 + i as u32, s))
        .collect();
    let stream = concat(&[&noise(1, 50), &frames[0], &noise(2, 50), &frames[1]]);
    let (passed, decrypted) = both(&stream);
    assert_eq!(passed.frames, frames);
    assert_eq!(decrypted.telegrams.len(), 2);
    let inputs = [
        ("enc", passed.frames.concat()),
        ("plain", decrypted.telegrams.concat()),
        ("orig", SAMPLES.concat()),
    ];
    let seen = dsmr_parser(&python, &inputs);
    let of = |mode: &str| -> Vec<String> {
        seen.iter()
            .filter(|(m, _)| m == mode)
            .map(|(_, j)| j.clone())
            .collect()
    };
    let orig = of("orig");
    assert_eq!(orig.len(), 2, "{seen:?}");
    assert!(
        orig[0].contains("\"ELECTRICITY_USED_TARIFF_1\""),
        "{}",
        orig[0]
    );
    assert_eq!(of("enc"), orig, "pass-through, decrypted by dsmr_parser");
    assert_eq!(of("plain"), orig, "decrypted by p1mux");
}
