//! Each way a frame goes wrong, end to end: rejected with its reason in
//! the SIGUSR1 stats, and the next good frame still comes through; a wrong
//! key is logged once, plainly, and named by the silence warning.

use std::thread;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::frames::{Form, KEY_HEX, OTHER_KEY, frame};
use crate::{key_file, lux, lux_frame, stats, wait_for_encrypted_lock};

/// Good frames with every kind of bad one between them: each piece, and
/// whether it is structurally a whole frame (what passes without a key).
fn troubled_stream() -> Vec<(Vec<u8>, bool)> {
    let mut flipped_tag = lux_frame(2);
    *flipped_tag.last_mut().unwrap() ^= 0x01;
    let mut flipped_ciphertext = lux_frame(4);
    flipped_ciphertext[100] ^= 0x20;
    let truncated = lux_frame(7)[..600].to_vec();
    let mut oversize = lux_frame(9);
    oversize[11..13].copy_from_slice(&0x3000u16.to_be_bytes());
    // Decrypts (the tag fits), but the telegram inside fails its CRC.
    let bad_crc = frame(Form::Long2, 11, &corrupt(&lux(11)));
    vec![
        (lux_frame(1), true),
        (flipped_tag, true),
        (lux_frame(3), true),
        (flipped_ciphertext, true),
        (lux_frame(5), true),
        (lux_frame(5), true),
        (lux_frame(6), true),
        (truncated, false),
        (lux_frame(8), true),
        (oversize, false),
        (lux_frame(10), true),
        (bad_crc, true),
        (lux_frame(12), true),
    ]
}

/// The frame counters of the frames that decrypt to good telegrams.
const GOOD: [u32; 7] = [1, 3, 5, 6, 8, 10, 12];

#[test]
fn with_a_key_each_bad_frame_is_counted_by_reason_and_the_next_one_comes_through() {
    let dir = TempDir::new("rejects-key");
    let key = key_file(&dir, "key", KEY_HEX);
    let (p1mux, mut pty, port) = P1mux::on_pty(&["--key-file", key.to_str().unwrap()]);
    let mut client = p1mux.connect(port);
    for (piece, _) in troubled_stream() {
        pty.write(&piece);
    }
    for n in GOOD {
        assert_eq!(
            read_exact(&mut client, lux(n).len()),
            lux(n),
            "telegram {n}"
        );
    }
    assert_silent(&mut client, Duration::from_millis(300));
    let stats = stats(&p1mux);
    // The body of the frame with a broken length goes to the text side (it
    // might have been text), whose framer drops it as non-ascii noise.
    assert!(
        stats.contains("telegrams 7 valid, encrypted frames 11, rejects: crc 1, "),
        "{stats}"
    );
    assert!(
        stats.contains("enc-oversize 1, enc-truncated 1, auth 2, counter 1, bytes in"),
        "{stats}"
    );
    assert!(
        !p1mux.log_text().contains("does not fit"),
        "damage is not a wrong key"
    );
}

#[test]
fn without_a_key_frames_pass_as_they_came_and_broken_structure_is_counted() {
    let (p1mux, mut pty, port) = P1mux::on_pty(&[]);
    let mut client = p1mux.connect(port);
    let pieces = troubled_stream();
    for (piece, _) in &pieces {
        pty.write(piece);
    }
    // Without the key a flipped bit cannot be seen: the clients' own
    // decryption judges those frames. Only the structure is p1mux's.
    let whole: Vec<u8> = pieces
        .iter()
        .filter(|(_, whole)| *whole)
        .flat_map(|(piece, _)| piece.clone())
        .collect();
    assert!(
        read_exact(&mut client, whole.len()) == whole,
        "every whole frame, unchanged"
    );
    assert_silent(&mut client, Duration::from_millis(300));
    let stats = stats(&p1mux);
    assert!(
        stats.contains("telegrams 0 valid, encrypted frames 11, rejects: "),
        "{stats}"
    );
    assert!(
        stats.contains(" enc-oversize 1, enc-truncated 1, bytes in"),
        "{stats}"
    );
}

#[test]
fn a_wrong_key_is_logged_once_counted_and_named_by_the_silence_warning() {
    let dir = TempDir::new("wrong-key");
    let hex: String = OTHER_KEY.iter().map(|b| format!("{b:02X}")).collect();
    let key = key_file(&dir, "key", &hex);
    let (p1mux, pty, port) = P1mux::on_pty(&["--key-file", key.to_str().unwrap()]);
    let mut client = p1mux.connect(port);
    let meter = thread::spawn(move || {
        let mut pty = pty;
        let start = Instant::now();
        let mut n = 1;
        // A frame every half second until the silence warning is due.
        while start.elapsed() < Duration::from_secs(66) {
            pty.write(&lux_frame(n));
            n += 1;
            thread::sleep(Duration::from_millis(500));
        }
        n - 1
    });
    wait_for_encrypted_lock(&p1mux);
    let message = "the key does not fit this meter: check the key from your grid operator";
    p1mux.wait_for(message);
    let warning = p1mux.wait_longer_for("no valid telegram for 60s", Duration::from_secs(75));
    assert!(
        warning.contains("at 115200 8N1: encrypted frames arrive, but none decrypts: wrong key"),
        "{warning}"
    );
    let sent = meter.join().unwrap();
    let stats = stats(&p1mux);
    assert!(
        stats.contains(&format!("encrypted frames {sent}")),
        "{stats}"
    );
    assert!(stats.contains(&format!("rejects: auth {sent},")), "{stats}");
    let log = p1mux.log_text();
    assert_eq!(
        log.matches(message).count(),
        1,
        "once, not per frame:\n{log}"
    );
    assert!(
        !log.contains("detecting the serial settings again"),
        "frames arrive: the setting is right, only the key is wrong"
    );
    assert_silent(&mut client, Duration::from_millis(100));
}
