//! Issue 10: a telegram right behind the head of another, cut off at any
//! byte, comes out once and byte-identical, and the head counts as one
//! reject; whatever the cut, the split, the parity, the CRC (or its
//! absence), and however many '/' the frame holds.

use p1mux::framer::{Framer, MAX_FRAME, Parity, Reject};
use p1mux_testkit::{
    NAMED_SAMPLES, SAMPLES, crc16, telegram_with_a_valid_suffix, with_crc, with_parity_bit,
};

use crate::{HOLLEY, Output, feed, frame_all, frame_bytewise, frame_split, noise, t211};

/// Where the '!' line of `sample` begins.
fn bang_line(sample: &[u8]) -> usize {
    sample.windows(2).rposition(|w| w == b"\n!").unwrap() + 1
}

/// `good` right behind the head of `other` cut off after `cut` bytes,
/// in noise: the stream, and where the telegram starts in it.
fn behind_cut_head(good: &[u8], other: &[u8], cut: usize, seed: u64) -> (Vec<u8>, usize) {
    let mut stream = noise(seed, 8);
    stream.extend_from_slice(&other[..cut]);
    let at = stream.len();
    stream.extend_from_slice(good);
    stream.extend(noise(seed + 1, 8));
    (stream, at)
}

/// Asserts that `good` came out once, byte-identical, the head never,
/// and the head counted once, for `reason`.
fn assert_recovered(out: &Output, good: &[u8], reason: Reject, context: &str) {
    assert!(
        out.telegrams == [good] && out.rejects == [reason],
        "{context}: {} telegrams ({} the good one), rejects {:?}",
        out.telegrams.len(),
        out.telegrams.iter().filter(|t| *t == good).count(),
        out.rejects
    );
}

#[test]
fn every_sample_behind_every_cut_head_of_every_other_comes_out_once() {
    // Each sample behind each head of each other sample, cut at every
    // byte offset: mid-line (glued to the '/', the case that lost both),
    // at line ends (the '/' begins a line), in the ident, in the '!' line.
    // Split where the telegram starts, just after its '/', and at an
    // offset that moves through the stream with the cut; and as 7E1 with
    // the parity in bit 7.
    for (g, (name, good)) in NAMED_SAMPLES.iter().enumerate() {
        for (o, (other_name, other)) in NAMED_SAMPLES.iter().enumerate() {
            if g == o {
                continue;
            }
            for cut in 1..other.len() {
                let (stream, at) = behind_cut_head(good, other, cut, (g * 7 + o) as u64);
                // A head that reached its '!' line fails on that line.
                let reason = if cut > bang_line(other) {
                    Reject::Trailer
                } else {
                    Reject::Truncated
                };
                let moving = (cut * 7919) % stream.len();
                for split in [0, at, at + 1, moving] {
                    let out = frame_split(Parity::None, &stream, split);
                    let context = format!("{name} behind {other_name} cut at {cut}, split {split}");
                    assert_recovered(&out, good, reason, &context);
                }
                let wire = with_parity_bit(&[&other[..cut], good].concat());
                let out = frame_all(Parity::Even, &wire);
                let context = format!("{name} behind {other_name} cut at {cut}, 7E1 in bit 7");
                assert_recovered(&out, good, reason, &context);
            }
        }
    }
}

#[test]
fn a_telegram_behind_a_cut_head_split_at_every_offset() {
    // The head cut in its ident and in the middle of a data line, each
    // stream split at every offset and fed byte by byte.
    for (g, (name, good)) in NAMED_SAMPLES.iter().enumerate() {
        for (o, (other_name, other)) in NAMED_SAMPLES.iter().enumerate() {
            if g == o {
                continue;
            }
            let mid_line = other.len() / 2;
            assert!(other[mid_line - 1] != b'\n' && other[mid_line] != b'\n');
            for cut in [5, mid_line] {
                let (stream, _) = behind_cut_head(good, other, cut, (g * 7 + o) as u64);
                for split in 0..=stream.len() {
                    let out = frame_split(Parity::None, &stream, split);
                    let context = format!("{name} behind {other_name} cut at {cut}, split {split}");
                    assert_recovered(&out, good, Reject::Truncated, &context);
                }
                let out = frame_bytewise(Parity::None, &stream);
                let context = format!("{name} behind {other_name} cut at {cut}, byte by byte");
                assert_recovered(&out, good, Reject::Truncated, &context);
            }
        }
    }
}

#[test]
fn holley_behind_a_cut_head_keeps_its_ident_whole() {
    // The CRC decides: the first '/' from which the rest passes is the
    // header's, not the one inside the ident.
    let holley = with_crc(HOLLEY);
    for cut in [1, 5, 10, 30] {
        let stream = [&SAMPLES[5][..cut], &holley].concat();
        let out = frame_all(Parity::None, &stream);
        assert_recovered(&out, &holley, Reject::Truncated, &format!("cut at {cut}"));
    }
}

#[test]
fn several_cut_heads_in_a_row_count_once() {
    let (a, b, good) = (SAMPLES[3], SAMPLES[4], SAMPLES[6]);
    let stream = [&a[..310], &b[..5], &a[..77], good].concat();
    assert_recovered(
        &frame_all(Parity::None, &stream),
        good,
        Reject::Truncated,
        "crc",
    );
    // Without CRC, the last header line begins the telegram.
    let (a, good) = (SAMPLES[1], SAMPLES[0]);
    let stream = [&a[..310], &a[..7], b"/X/ABC5\r\n\r\n1-0:1(", good].concat();
    assert_recovered(
        &frame_all(Parity::None, &stream),
        good,
        Reject::Truncated,
        "no crc",
    );
}

#[test]
fn of_two_suffixes_that_pass_the_longer_is_the_telegram() {
    // A constructed frame in which two later '/' begin a suffix whose CRC
    // matches: the first is taken, as it is for Holley's ident.
    let longer = telegram_with_a_valid_suffix();
    let stream = [b"/0-0:96.1.1(12", &longer[..]].concat();
    assert_recovered(
        &frame_all(Parity::None, &stream),
        &longer,
        Reject::Truncated,
        "",
    );
}

#[test]
fn a_cut_head_and_a_long_telegram_too_long_for_one_frame() {
    // A Sagemcom T211 sends over 5 KB: its head and a whole one exceed
    // MAX_FRAME, so the frame goes on from the whole one's '/'.
    let big = t211();
    for cut in [4000, 4001, 4500, 4990] {
        let stream = [&big[..cut], &big].concat();
        for split in [0, cut, MAX_FRAME, MAX_FRAME + 1] {
            let out = frame_split(Parity::None, &stream, split);
            let context = format!("cut at {cut}, split {split}");
            assert_recovered(&out, &big, Reject::Truncated, &context);
        }
    }
}

#[test]
fn a_bad_byte_rejects_what_it_is_in_and_nothing_after() {
    let (other, good) = (SAMPLES[5], SAMPLES[6]);
    for (bad, reason) in [(0x00, Reject::Nul), (0xE1, Reject::NonAscii)] {
        // In the head: the head goes, the telegram behind it comes out.
        let mut head = other[..200].to_vec();
        head[100] = bad;
        let out = frame_all(Parity::None, &[&head, good].concat());
        assert_recovered(&out, good, reason, "bad byte in the head");
        // In the telegram behind the head: that telegram is damaged.
        let mut damaged = good.to_vec();
        damaged[100] = bad;
        let out = frame_all(Parity::None, &[&other[..200], &damaged, good].concat());
        assert_recovered(&out, good, reason, "bad byte in the telegram");
    }
    // DSMR 2.2 (no CRC) under 7E1 in bit 7: a parity error, likewise.
    let (other, good) = (SAMPLES[1], SAMPLES[0]);
    let mut head = with_parity_bit(&other[..200]);
    head[150] ^= 0x01;
    let out = frame_all(Parity::Even, &[head, with_parity_bit(good)].concat());
    assert_recovered(&out, good, Reject::Parity, "parity error in the head");
    let mut damaged = with_parity_bit(good);
    damaged[150] ^= 0x10;
    let stream = [
        with_parity_bit(&other[..200]),
        damaged,
        with_parity_bit(good),
    ]
    .concat();
    let out = frame_all(Parity::Even, &stream);
    assert_recovered(&out, good, Reject::Parity, "parity error in the telegram");
}

#[test]
fn frames_full_of_slashes_cost_linear_work_and_resync() {
    // One pass per frame however many '/' it holds (benches/framer.rs
    // measures it): 8 KiB frames of '/' with a '!' line, with and without
    // CRC, runs of '/' far past MAX_FRAME, and ident-like '/' everywhere.
    let mut framer = Framer::new(Parity::None);
    let mut slashes = vec![b'/'; MAX_FRAME - 16];
    slashes.extend_from_slice(b"\r\n!\r\n");
    let out = feed(&mut framer, &[&slashes]);
    assert_eq!(out.telegrams, vec![slashes.clone()], "DSMR 2.2: no header");
    let mut idents = b"/ABC5".repeat(MAX_FRAME / 5 - 2);
    idents.extend_from_slice(b"\r\n\r\n!\r\n");
    let out = feed(&mut framer, &[&idents]);
    assert_eq!(out.telegrams, vec![b"/ABC5\r\n\r\n!\r\n".to_vec()]);
    assert_eq!(out.rejects, vec![Reject::Truncated]);
    // With a CRC that some suffix may or may not match by chance.
    let mut framer = Framer::new(Parity::None);
    framer.push(SAMPLES[5], |_| {});
    for crc in ["ABCD", "0000", "1234", "FFFF"] {
        let mut frame = vec![b'/'; MAX_FRAME - 16];
        frame.extend_from_slice(format!("\r\n!{crc}\r\n").as_bytes());
        let out = feed(&mut framer, &[&frame]);
        assert_eq!(out.rejects.len(), 1, "{crc}");
        for t in &out.telegrams {
            let bang = t.len() - 7;
            assert_eq!(format!("{:04X}", crc16(&t[..=bang])), crc);
        }
    }
    let endless = vec![b'/'; 32 * MAX_FRAME];
    let out = feed(&mut framer, &[&endless]);
    assert_eq!(out.rejects.len(), 31 * MAX_FRAME);
    assert!(out.rejects.iter().all(|&r| r == Reject::Truncated));
    assert_eq!(framer.buffered(), MAX_FRAME);
    let sample = SAMPLES[6];
    let out = feed(&mut framer, &[b"\r\n", sample]);
    assert_eq!(out.telegrams, vec![sample.to_vec()]);
}
