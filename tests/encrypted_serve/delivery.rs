//! Every frame reaches every client exactly once: whole and byte-identical
//! without a key (in one read, as a telegram), as its plaintext telegram
//! with one; split at every offset, among noise; from a serial port or a
//! network source.

use std::io::Read;
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use crate::common::*;
use crate::frames::{KEY_HEX, noise};
use crate::{key_file, lux, lux_frame, stats};

#[test]
fn without_a_key_each_frame_reaches_each_client_whole_in_one_read() {
    let (p1mux, mut pty, port) = P1mux::on_pty(&[]);
    let mut clients = [p1mux.connect(port), p1mux.connect(port)];
    for n in 1..=4 {
        let frame = lux_frame(n);
        pty.write(&noise(n, 30));
        // The frame in two bursts with a pause, as a USB adapter hands it over.
        let half = frame.len() / 2;
        pty.write(&frame[..half]);
        thread::sleep(Duration::from_millis(30));
        pty.write(&frame[half..]);
        for client in &mut clients {
            let mut buf = [0u8; 4096];
            let got = client.read(&mut buf).unwrap();
            assert!(
                buf[..got] == frame[..],
                "frame {n}: one read, the whole frame"
            );
        }
        thread::sleep(Duration::from_millis(50));
    }
    p1mux.wait_for("passing them through whole");
    let stats = stats(&p1mux);
    assert!(
        stats.contains("telegrams 0 valid, encrypted frames 4, rejects: none"),
        "{stats}"
    );
    assert!(stats.contains("telegrams written to clients 8"), "{stats}");
}

/// Sends one frame for every offset of a frame, cut there (with noise
/// before it), and checks that a client gets, in order and exactly once,
/// each frame (no key) or each frame's telegram (`--key-file`).
fn split_at_every_offset(with_key: bool) {
    let dir = TempDir::new(if with_key { "split-key" } else { "split" });
    let key = key_file(&dir, "key", KEY_HEX);
    let mut args = vec!["--no-replay"];
    if with_key {
        args.extend(["--key-file", key.to_str().unwrap()]);
    }
    let (p1mux, mut pty, port) = P1mux::on_pty(&args);
    let mut client = p1mux.connect(port);
    let count = lux_frame(1).len() as u32 + 1;
    let expected: Vec<Vec<u8>> = (1..=count)
        .map(|n| if with_key { lux(n) } else { lux_frame(n) })
        .collect();
    let total = expected.iter().map(Vec::len).sum();
    let reader = thread::spawn(move || read_exact(&mut client, total));
    for (at, n) in (1..=count).enumerate() {
        let frame = lux_frame(n);
        let mut head = noise(n, 16);
        head.extend_from_slice(&frame[..at]);
        pty.write(&head);
        thread::sleep(Duration::from_millis(1));
        pty.write(&frame[at..]);
    }
    let got = reader.join().unwrap();
    let mut offset = 0;
    for (i, want) in expected.iter().enumerate() {
        let piece = &got[offset..offset + want.len()];
        assert!(piece == want.as_slice(), "item {i} (cut at {i}) differs");
        offset += want.len();
    }
    let stats = stats(&p1mux);
    let valid = if with_key { count } else { 0 };
    let want = format!("telegrams {valid} valid, encrypted frames {count}, rejects: none");
    assert!(stats.contains(&want), "{stats}");
}

#[test]
fn without_a_key_frames_split_at_every_offset_come_through_once_byte_identical() {
    split_at_every_offset(false);
}

#[test]
fn with_a_key_frames_split_at_every_offset_come_through_once_as_telegrams() {
    split_at_every_offset(true);
}

#[test]
fn with_a_key_clients_get_plain_dsmr_and_a_new_client_its_replay() {
    let dir = TempDir::new("plain");
    let key = key_file(&dir, "key", KEY_HEX);
    let (p1mux, mut pty, port) = P1mux::on_pty(&["--key-file", key.to_str().unwrap()]);
    let told = format!(
        "encrypted frames will be decrypted with the key in {}",
        key.display()
    );
    assert!(p1mux.log_text().contains(&told), "before listening");
    let mut first = p1mux.connect(port);
    pty.write(&lux_frame(7));
    assert_eq!(read_exact(&mut first, LUX_LEN), lux(7));
    // A new client from another host gets the last telegram, decrypted.
    let mut late = p1mux.connect_from(port, "127.0.0.2");
    assert_eq!(read_exact(&mut late, LUX_LEN), lux(7));
    pty.write(&lux_frame(8));
    assert_eq!(read_exact(&mut late, LUX_LEN), lux(8));
    assert_eq!(read_exact(&mut first, LUX_LEN), lux(8));
    assert!(!p1mux.log_text().contains("passing them through"));
}

const LUX_LEN: usize = crate::LUX.len();

#[test]
fn a_network_source_gets_the_same_treatment_and_its_replay_is_skipped() {
    // An ESP dongle in Luxembourg, or another p1mux passing frames through.
    let dongle = TcpListener::bind("127.0.0.1:0").unwrap();
    let source = format!("tcp://{}", dongle.local_addr().unwrap());
    let p1mux = P1mux::serve(&["--device", &source, "--no-replay"]);
    let port = p1mux.port();
    let accept = || {
        let (stream, _) = dongle.accept().unwrap();
        stream
    };
    let mut upstream = accept();
    p1mux.wait_for(&format!("connected to {source}"));
    let mut client = p1mux.connect(port);
    for n in [1, 2] {
        std::io::Write::write_all(&mut upstream, &lux_frame(n)).unwrap();
    }
    p1mux.wait_for(&format!(
        "receiving from {source}: an encrypted meter (system title SAG-1905004217, frame counter 1)"
    ));
    assert_eq!(read_exact(&mut client, lux_frame(1).len()), lux_frame(1));
    assert_eq!(read_exact(&mut client, lux_frame(2).len()), lux_frame(2));
    // The source goes away and comes back with its last frame first.
    drop(upstream);
    p1mux.wait_for(&format!("lost {source}"));
    let mut upstream = accept();
    p1mux.wait_for(&format!("connected to {source}"));
    for n in [2, 3] {
        std::io::Write::write_all(&mut upstream, &lux_frame(n)).unwrap();
    }
    assert_eq!(read_exact(&mut client, lux_frame(3).len()), lux_frame(3));
    p1mux.wait_for("skipped a replayed encrypted frame");
    assert_silent(&mut client, Duration::from_millis(300));
}
