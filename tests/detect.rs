//! Auto-detection end to end: the real binary, a pty behind the UART
//! emulator, a meter that sends with settings p1mux must find by itself.

mod common;

use std::time::{Duration, Instant};

use common::uart::{Meter, SimulatedMeter};
use common::*;

/// Starts `p1mux serve` with default (auto) settings on a fresh pty, a
/// client, and `meter` sending `sends` over and over.
fn serve_with_meter(
    meter: Meter,
    ignores_parity: bool,
    sends: Vec<u8>,
    interval: Duration,
) -> (P1mux, std::net::TcpStream, SimulatedMeter) {
    let pty = Pty::open();
    let device = pty.slave_path.to_str().unwrap().to_string();
    let p1mux = P1mux::serve(&["--device", &device]);
    let port = p1mux.port();
    p1mux.wait_for(&format!("opened {device} (115200 8N1)"));
    let client = p1mux.connect(port);
    let meter = SimulatedMeter::start(&pty, meter, ignores_parity, vec![sends], interval);
    (p1mux, client, meter)
}

/// [`serve_with_meter`]; asserts the client's first bytes are `telegram`,
/// clean, within `limit` of start. Returns p1mux's lock line.
fn detects(
    meter: Meter,
    ignores_parity: bool,
    telegram: &[u8],
    interval: Duration,
    limit: Duration,
) -> String {
    let started = Instant::now();
    let (p1mux, mut client, _meter) =
        serve_with_meter(meter, ignores_parity, telegram.to_vec(), interval);
    client.set_read_timeout(Some(limit)).unwrap();
    let got = read_exact(&mut client, telegram.len());
    let took = started.elapsed();
    assert!(got == telegram, "the first telegram a client gets is clean");
    assert!(took < limit, "took {took:?}, limit {limit:?}");
    let line = p1mux.wait_for("detected: ");
    eprintln!("delivering after {took:.1?}: {line}");
    line
}

#[test]
fn dsmr5_at_115200_8n1_within_5s() {
    let line = detects(
        Meter::DSMR5,
        false,
        SAMPLES[5],
        Duration::from_secs(1),
        Duration::from_secs(5),
    );
    assert!(
        line.contains("DSMR 5.0 meter /ISK5\\2M550T-1012 at 115200 8N1"),
        "{line}"
    );
}

#[test]
fn dsmr4_at_115200_8n1_every_10s_within_30s() {
    let line = detects(
        Meter::DSMR5,
        false,
        SAMPLES[3],
        Duration::from_secs(10),
        Duration::from_secs(30),
    );
    assert!(
        line.contains("DSMR 4.2 meter /KFM5KAIFA-METER at 115200 8N1"),
        "{line}"
    );
}

#[test]
fn dsmr22_at_9600_7e1_within_30s() {
    let line = detects(
        Meter::DSMR22,
        false,
        SAMPLES[0],
        Duration::from_secs(10),
        Duration::from_secs(30),
    );
    assert!(
        line.contains("DSMR 2.2/3.0 meter /ISk5\\2MT382-1003 at 9600 7E1"),
        "{line}"
    );
    assert!(!line.contains("bit 7"), "{line}");
}

#[test]
fn dsmr22_behind_a_driver_that_ignores_parity_within_30s() {
    let line = detects(
        Meter::DSMR22,
        true,
        SAMPLES[0],
        Duration::from_secs(10),
        Duration::from_secs(30),
    );
    assert!(line.contains("at 9600 7E1"), "{line}");
    assert!(
        line.contains("ignores the 7E1 setting (parity arrives in bit 7"),
        "{line}"
    );
}

#[test]
fn cut_heads_before_dsmr5_telegrams_keep_115200_8n1() {
    // Every telegram the meter sends comes right behind the head of
    // another, cut off in the middle of a line: the telegrams behind the
    // heads are good, so auto-detection must lock on 115200 8N1 and stay.
    let telegram = SAMPLES[5];
    let head = &SAMPLES[6][..310];
    assert!(!head.ends_with(b"\n"));
    let (p1mux, mut client, _meter) = serve_with_meter(
        Meter::DSMR5,
        false,
        [head, telegram].concat(),
        Duration::from_millis(500),
    );
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    for _ in 0..3 {
        assert!(read_exact(&mut client, telegram.len()) == telegram);
    }
    let line = p1mux.wait_for("detected: ");
    assert!(
        line.contains("DSMR 5.0 meter /ISK5\\2M550T-1012 at 115200 8N1"),
        "{line}"
    );
    // A switch logs "not <setting>: ...; trying <next>".
    assert!(
        !p1mux.log_text().contains("; trying "),
        "{}",
        p1mux.log_text()
    );
}
