//! `p1mux probe` end to end, one test per verdict: the real binary on a pty
//! behind the UART emulator.

mod common;

use std::time::Duration;

use common::uart::{Meter, SimulatedMeter};
use common::*;

struct Report {
    status: Option<i32>,
    text: String,
}

/// Runs `p1mux probe` on `device`; once it has opened the port, starts
/// `meter` (if any) on `pty`.
fn probe(
    device: &str,
    seconds: u64,
    pty_and_meter: Option<(&Pty, Meter, bool, &[u8])>,
    adjust: impl FnOnce(&mut std::process::Command),
) -> Report {
    let secs = seconds.to_string();
    let mut p1mux = P1mux::spawn(&["probe", "--device", device, "--seconds", &secs], adjust);
    let _meter = pty_and_meter.map(|(pty, meter, ignores, telegram)| {
        p1mux.wait_for("Probing ");
        SimulatedMeter::start(
            pty,
            meter,
            ignores,
            vec![telegram.to_vec()],
            Duration::from_millis(400),
        )
    });
    let status = p1mux
        .wait_exit(Duration::from_secs(seconds * 4 + 10))
        .expect("probe ends");
    // Let the output threads drain.
    p1mux.wait_for("p1mux ");
    Report {
        status: status.code(),
        text: p1mux.log_text(),
    }
}

#[test]
fn verdict_works() {
    let pty = Pty::open();
    let dev = pty.slave_path.to_str().unwrap().to_string();
    let r = probe(
        &dev,
        3,
        Some((&pty, Meter::DSMR5, false, SAMPLES[5])),
        |_| {},
    );
    assert_eq!(r.status, Some(0), "{}", r.text);
    assert!(
        r.text
            .contains("Verdict: it works. A DSMR 5.0 meter (/ISK5\\2M550T-1012) at 115200 8N1."),
        "{}",
        r.text
    );
    assert!(
        r.text.contains(&format!(
            "p1mux serve --device {dev} --baud 115200 --framing 8n1"
        )),
        "{}",
        r.text
    );
    assert!(
        r.text.contains("115200 8N1") && r.text.contains("DSMR text"),
        "table row: {}",
        r.text
    );
}

#[test]
fn verdict_works_with_parity_in_bit_7() {
    let pty = Pty::open();
    let dev = pty.slave_path.to_str().unwrap().to_string();
    let r = probe(
        &dev,
        3,
        Some((&pty, Meter::DSMR22, true, SAMPLES[0])),
        |_| {},
    );
    assert_eq!(r.status, Some(0), "{}", r.text);
    assert!(
        r.text
            .contains("Verdict: it works. A DSMR 2.2/3.0 meter (/ISk5\\2MT382-1003) at 9600 7E1."),
        "{}",
        r.text
    );
    assert!(
        r.text
            .contains("ignores the 7E1 setting (parity arrives in bit 7"),
        "{}",
        r.text
    );
    assert!(
        r.text.contains(&format!(
            "p1mux serve --device {dev} --baud 9600 --framing 7e1"
        )),
        "{}",
        r.text
    );
    // The first setting saw the 9600 baud data as garbage and said so.
    let first_row = r
        .text
        .lines()
        .find(|l| l.starts_with("115200 8N1 "))
        .unwrap();
    assert!(
        first_row.contains("not text") || first_row.contains("0x00"),
        "{first_row}"
    );
}

#[test]
fn verdict_no_bytes_at_all() {
    let pty = Pty::open();
    let dev = pty.slave_path.to_str().unwrap().to_string();
    let r = probe(&dev, 1, None, |_| {});
    assert_eq!(r.status, Some(1), "{}", r.text);
    assert!(
        r.text.contains("Verdict: no bytes at all: ") && r.text.contains("(listened 1s)"),
        "{}",
        r.text
    );
    for advice in [
        "Data Request (RJ12 pin 2)",
        "crossed RJ12 cable",
        &format!("Is {dev} the P1 cable?"),
    ] {
        assert!(r.text.contains(advice), "lacks {advice:?}: {}", r.text);
    }
    assert!(
        r.text.contains(&format!("p1mux probe --device {dev}")),
        "{}",
        r.text
    );
    drop(pty);
}

#[test]
fn verdict_bytes_but_nothing_decodes() {
    let pty = Pty::open();
    let dev = pty.slave_path.to_str().unwrap().to_string();
    let meter = Meter {
        wrong_polarity: true,
        ..Meter::DSMR5
    };
    let r = probe(&dev, 2, Some((&pty, meter, false, SAMPLES[5])), |_| {});
    assert_eq!(r.status, Some(1), "{}", r.text);
    assert!(r.text.contains("but no setting decodes them"), "{}", r.text);
    assert!(
        r.text.contains("inverter") && r.text.contains("FTDI cable with RXD inverted"),
        "{}",
        r.text
    );
    assert!(
        r.text.contains(&format!("p1mux probe --device {dev}")),
        "{}",
        r.text
    );
    // Every setting was tried.
    for setting in [
        "115200 8N1 ",
        "9600 7E1 ",
        "9600 8N1 (7E1 parity in bit 7)",
        "115200 7E1 ",
    ] {
        let tried = |l: &&str| {
            l.starts_with(setting) && !l.contains("not needed") && !l.contains("skipped")
        };
        assert!(r.text.lines().any(|l| tried(&l)), "{setting}: {}", r.text);
    }
}

#[test]
fn verdict_permission_denied() {
    let pty = Pty::open();
    let dev = pty.slave_path.to_str().unwrap().to_string();
    let r = probe(&dev, 1, None, deny_access(&pty.slave_path));
    assert_eq!(r.status, Some(1), "{}", r.text);
    assert!(
        r.text
            .contains(&format!("Verdict: permission denied on {dev}")),
        "{}",
        r.text
    );
    // The hint names the device's real owner and mode (a pty the test made
    // unreadable: joining a group would not help, so it must not say so).
    assert!(
        r.text.contains("the device belongs to ") && r.text.contains("will not help"),
        "{}",
        r.text
    );
    assert!(!r.text.contains("usermod"), "{}", r.text);
}

#[test]
fn verdict_device_missing_lists_ports() {
    let r = probe("/dev/p1mux-no-such-cable", 1, None, |_| {});
    assert_eq!(r.status, Some(1), "{}", r.text);
    assert!(
        r.text
            .contains("Verdict: /dev/p1mux-no-such-cable does not exist"),
        "{}",
        r.text
    );
    assert!(
        r.text.contains("Serial ports that do exist:")
            || r.text.contains("No serial ports exist on this machine"),
        "{}",
        r.text
    );
    assert!(r.text.contains("p1mux probe --device "), "{}", r.text);
}

#[test]
fn usage_errors_exit_2() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_p1mux"))
        .args(["probe", "--seconds", "zero"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
