//! Each way a telegram can be damaged (CRC, truncation, oversize, parity,
//! NUL, high bytes, broken trailers, binary noise): it is rejected for
//! that reason, and the telegram after it passes.

use p1mux::framer::{Framer, MAX_FRAME, Parity, Reject};
use p1mux_testkit::{SAMPLES, crc16, with_crc, with_parity_bit};

use crate::{HOLLEY, feed, frame_all, frame_split, t211};

#[test]
fn corrupted_crc_is_rejected_and_offered_whole_for_forward_all() {
    let sample = SAMPLES[5];
    let mut bad = sample.to_vec();
    let pos = bad.windows(4).position(|w| w == b"1.8.").unwrap() + 10;
    bad[pos] = if bad[pos] == b'1' { b'2' } else { b'1' };
    let mut stream = bad.clone();
    stream.extend_from_slice(sample);
    let out = frame_all(Parity::None, &stream);
    assert_eq!(out.telegrams, vec![sample.to_vec()]);
    assert_eq!(out.rejects, vec![Reject::Crc]);
    assert_eq!(out.failed_frames, vec![bad]);
}

#[test]
fn truncated_then_valid_resyncs_on_the_new_header() {
    let sample = SAMPLES[6];
    let cut = sample
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w == b"\r\n")
        .nth(5)
        .unwrap()
        .0
        + 2;
    let mut stream = sample[..cut].to_vec();
    stream.extend_from_slice(sample);
    for split in 0..=stream.len() {
        let out = frame_split(Parity::None, &stream, split);
        assert_eq!(out.telegrams, vec![sample.to_vec()], "split at {split}");
        assert_eq!(out.rejects, vec![Reject::Truncated]);
    }
}

#[test]
fn slash_inside_a_line_is_data_holley_ident() {
    let holley = with_crc(HOLLEY);
    let warmtelink =
        with_crc("/NWA-WARMTELINK\r\n\r\n0-1:24.2.1(201012123000W)(00012.345*GJ)\r\n!");
    let mut stream = holley.clone();
    stream.extend_from_slice(b"\r\n\x00");
    stream.extend_from_slice(&warmtelink);
    let out = frame_all(Parity::None, &stream);
    assert_eq!(out.telegrams, vec![holley, warmtelink]);
    assert!(out.rejects.is_empty());
}

#[test]
fn oversize_frame_is_dropped_and_framer_resyncs() {
    let mut stream = b"/XXX5 endless\r\n".to_vec();
    while stream.len() <= MAX_FRAME {
        stream.extend_from_slice(b"1-0:99.99.0(0123456789)\r\n");
    }
    let sample = SAMPLES[3];
    stream.extend_from_slice(sample);
    let out = frame_all(Parity::None, &stream);
    assert_eq!(out.rejects, vec![Reject::Oversize]);
    assert_eq!(out.telegrams, vec![sample.to_vec()]);
    // A long but legal telegram (Sagemcom T211 sends over 2 KB) passes.
    let big = t211();
    assert_eq!(frame_all(Parity::None, &big).telegrams, vec![big.clone()]);
}

#[test]
fn parity_error_rejects_the_telegram_and_the_next_one_passes() {
    let sample = SAMPLES[0]; // DSMR 2.2: no CRC, parity is its only check
    let mut wire = with_parity_bit(sample);
    wire[100] ^= 0x01; // one flipped bit: odd popcount now
    wire.extend(with_parity_bit(sample));
    let out = frame_all(Parity::Even, &wire);
    assert_eq!(out.rejects, vec![Reject::Parity]);
    assert_eq!(out.telegrams, vec![sample.to_vec()]);
}

#[test]
fn nul_inside_a_telegram_rejects_it() {
    // A driver that honours 7E1 marks a parity error as NUL.
    let sample = SAMPLES[0];
    let mut wire = sample.to_vec();
    wire[120] = 0;
    wire.extend_from_slice(sample);
    for parity in [Parity::Even, Parity::None] {
        let out = frame_all(parity, &wire);
        assert_eq!(out.rejects, vec![Reject::Nul], "{parity:?}");
        assert_eq!(out.telegrams, vec![sample.to_vec()], "{parity:?}");
    }
}

#[test]
fn high_bytes_in_an_8n1_telegram_reject_it() {
    let sample = SAMPLES[1];
    let mut wire = sample.to_vec();
    wire[50] |= 0x80;
    wire.extend_from_slice(sample);
    let out = frame_all(Parity::None, &wire);
    assert_eq!(out.rejects, vec![Reject::NonAscii]);
    assert_eq!(out.telegrams, vec![sample.to_vec()]);
}

#[test]
fn crc_may_be_lowercase_or_unpadded() {
    let lower = {
        let body = "/ISK5\\2M550T-1012\r\n\r\n1-0:1.8.1(000123.456*kWh)\r\n!";
        format!("{body}{:04x}\r\n", crc16(body.as_bytes())).into_bytes()
    };
    // Find a body whose CRC has a leading zero, as a heat-meter gateway sends
    // it: `!B9F` for 0x0B9F.
    let unpadded = (0..)
        .map(|n| format!("/NWA-WARMTELINK\r\n\r\n0-1:24.2.1({n:06})\r\n!"))
        .find(|body| crc16(body.as_bytes()) < 0x1000)
        .map(|body| format!("{body}{:X}\r\n", crc16(body.as_bytes())).into_bytes())
        .unwrap();
    let out = frame_all(Parity::None, &[lower.clone(), unpadded.clone()].concat());
    assert_eq!(out.telegrams, vec![lower, unpadded]);
}

#[test]
fn broken_trailers_are_rejected() {
    for bad in [
        &b"/X\r\n\r\n!12345\r\n"[..],
        b"/X\r\n\r\n!12G4\r\n",
        b"/X\r\n\r\n!ABCD\rX",
    ] {
        let out = frame_all(Parity::None, bad);
        assert!(out.telegrams.is_empty(), "{bad:?}");
        assert_eq!(out.rejects, vec![Reject::Trailer], "{bad:?}");
    }
    // A broken trailer followed straight by a header loses only itself.
    let sample = SAMPLES[2];
    let mut stream = b"/X\r\n\r\n!12".to_vec();
    stream.extend_from_slice(sample);
    assert_eq!(
        frame_all(Parity::None, &stream).telegrams,
        vec![sample.to_vec()]
    );
}

#[test]
fn binary_and_random_input_never_panics_and_stays_bounded() {
    // Encrypted DLMS (0xDB 0x08 ...) and HDLC (0x7E) frames, then pure noise.
    let mut framer = Framer::new(Parity::Even);
    let mut dlms = vec![0xDB, 0x08, b'S', b'A', b'G', b'5', 0x00, 0x7E];
    dlms.extend((0..=255u8).cycle().take(100_000));
    feed(&mut framer, &[&dlms]);
    let mut x: u32 = 12345;
    let mut buf = vec![0u8; 1 << 20];
    for b in &mut buf {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *b = (x >> 16) as u8;
    }
    feed(&mut framer, &[&buf]);
    // Still frames correctly afterwards.
    let sample = SAMPLES[4];
    let out = feed(&mut framer, &[b"\r\n", sample]);
    assert_eq!(out.telegrams, vec![sample.to_vec()]);
}
