//! What the clients get: every valid telegram, in order, each in a read
//! of its own; with --forward all and raw, what was asked for; under 7E1,
//! the parity stripped; and from the demo meter, at once.

use std::io::Read;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use p1mux_testkit::pty::InputModes;
use p1mux_testkit::samples::crc_ok;

use crate::common::*;

#[test]
fn ten_clients_get_every_valid_telegram_in_order_and_nothing_else() {
    let (p1mux, mut pty, port) = P1mux::on_pty(&[]);
    let mut clients: Vec<TcpStream> = (0..10).map(|_| p1mux.connect(port)).collect();

    let mut expected = Vec::new();
    for round in 0..3 {
        // One meter sends one kind of telegram: these all carry a CRC.
        for (i, sample) in SAMPLES.iter().enumerate().skip(2) {
            pty.write(b"\x00\x00\r\n\xff\xfe garbage \x80\x81\r\n");
            if (i + round) % 3 == 0 {
                // A corrupted copy goes first: never delivered.
                pty.write(&corrupt(sample));
            }
            // Half a telegram, cut at a line, then the real thing.
            let cut = sample.iter().rposition(|&b| b == b'\n').unwrap() / 2;
            let cut = sample[..cut].iter().rposition(|&b| b == b'\n').unwrap() + 1;
            pty.write(&sample[..cut]);
            pty.write(sample);
            expected.extend_from_slice(sample);
        }
    }
    pty.write(b"\r\n\x00");

    for (i, client) in clients.iter_mut().enumerate() {
        let got = read_exact(client, expected.len());
        assert!(got == expected, "client {i} got different bytes");
    }
    assert_silent(&mut clients[0], Duration::from_millis(300));
    p1mux.signal(libc::SIGUSR1);
    let stats = p1mux.wait_for("stats:");
    assert!(stats.contains("telegrams 15 valid"), "{stats}");
    assert!(
        stats.contains("crc ") && stats.contains("truncated 15"),
        "{stats}"
    );
}

#[test]
fn each_telegram_starts_a_fresh_client_read() {
    // What Domoticz needs: '/' first in a read, nothing after the '!' line.
    let (p1mux, mut pty, port) = P1mux::on_pty(&[]);
    let mut client = p1mux.connect(port);
    for sample in SAMPLES {
        // The meter sends in two bursts with a pause, as some do.
        let half = sample.len() / 2;
        pty.write(&sample[..half]);
        thread::sleep(Duration::from_millis(30));
        pty.write(&sample[half..]);
        let mut buf = [0u8; 4096];
        let n = client.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], sample, "one read, one whole telegram");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn forward_all_includes_bad_crc_and_raw_passes_bytes_through() {
    let bad = corrupt(SAMPLES[6]);
    let (p1mux, mut pty, port) = P1mux::on_pty(&["--forward", "all"]);
    let mut client = p1mux.connect(port);
    pty.write(b"noise\r\n");
    pty.write(&bad);
    pty.write(SAMPLES[6]);
    assert_eq!(read_exact(&mut client, bad.len()), bad);
    assert_eq!(read_exact(&mut client, SAMPLES[6].len()), SAMPLES[6]);
    drop(p1mux);

    let (p1mux, mut pty, port) = P1mux::on_pty(&["--forward", "raw"]);
    let mut client = p1mux.connect(port);
    let mut raw = b"\x00\xffnoise\r\n".to_vec();
    raw.extend_from_slice(&bad);
    pty.write(&raw);
    assert_eq!(read_exact(&mut client, raw.len()), raw);
}

#[test]
fn seven_e1_sets_the_port_and_strips_parity_either_way() {
    let (p1mux, mut pty, port) = P1mux::on_pty(&["--baud", "9600"]);
    // Linux's pty driver forces CS8 and clears PARENB whatever is asked, so
    // the 7E1 request shows in what it keeps: input parity checking, with
    // errors delivered as NUL (neither ignored nor marked), and the speed.
    let iflag = pty.termios().input_modes;
    assert!(iflag.contains(InputModes::INPCK), "parity checked");
    assert!(
        !iflag.intersects(InputModes::IGNPAR | InputModes::PARMRK | InputModes::ISTRIP),
        "errors arrive as NUL"
    );
    assert_eq!(pty.baud(), 9600);
    let mut client = p1mux.connect(port);
    let sample = SAMPLES[0]; // DSMR 2.2
    // A driver that ignores 7E1: parity in bit 7. Then one that honours it,
    // with a parity error (NUL) in the middle of a telegram.
    pty.write(&with_parity_bit(sample));
    let mut damaged = sample.to_vec();
    damaged[200] = 0;
    pty.write(&damaged);
    pty.write(sample);
    assert_eq!(
        read_exact(&mut client, sample.len() * 2),
        [sample, sample].concat()
    );
    assert_silent(&mut client, Duration::from_millis(300));
}

#[test]
fn demo_delivers_within_two_seconds() {
    let started = Instant::now();
    let p1mux = P1mux::serve(&["--demo"]);
    let port = p1mux.port();
    let mut client = connect(port);
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = client.read(&mut buf).expect("a telegram within 2 s");
    assert!(started.elapsed() < Duration::from_secs(3));
    // One whole telegram from the demo meter, its CRC right.
    let telegram = &buf[..n];
    assert!(telegram.starts_with(p1mux::source::demo::HEADER.as_bytes()));
    assert_eq!(telegram[telegram.len() - 7], b'!', "ends with !CRC");
    assert!(crc_ok(telegram), "its CRC is right");
}
