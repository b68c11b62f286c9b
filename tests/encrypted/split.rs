//! Frames among noise and text, split anywhere: each frame comes out
//! exactly once, byte-identical (pass-through) or as its telegram
//! (decrypted), and every other byte goes to the text side unchanged.

use std::slice;

use p1mux::encrypted::{MAX_FRAME, Piece, Reject, Splitter};
use p1mux::framer::{Event, Framer, Parity};

use crate::frames::*;

/// Every telegram in the length form it fits, and the samples also in
/// the other long form.
fn cases() -> Vec<(Vec<u8>, Form)> {
    let mut cases = vec![
        (short_telegram(1), Form::Short),
        (short_telegram(2), Form::Long2),
        (medium_telegram(3), Form::Long1),
    ];
    for sample in SAMPLES {
        cases.push((sample.to_vec(), Form::Long2));
    }
    cases
}

/// Checks one run: the frames are `frames`, the telegrams `telegrams`,
/// the text is `text`, and nothing was rejected.
fn check(out: &Out, frames: &[Vec<u8>], telegrams: &[Vec<u8>], text: &[u8], what: &str) {
    assert_eq!(out.frames, frames, "{what}: frames");
    assert_eq!(out.telegrams, telegrams, "{what}: telegrams");
    assert_eq!(out.text, text, "{what}: text");
    assert_eq!(out.rejects, [], "{what}: rejects");
    assert_eq!(out.plain_rejects, [], "{what}: plaintext rejects");
    assert_eq!(out.text_telegrams, 0, "{what}: telegrams in the text");
}

#[test]
fn every_frame_split_at_every_offset_comes_out_once_in_both_modes() {
    for (i, (plain, form)) in cases().into_iter().enumerate() {
        let counter = 0x0005_A8E3 + i as u32;
        let f = frame(form, counter, &plain);
        let (before, after) = (noise(i as u32, 40), noise(100 + i as u32, 40));
        let stream = concat(&[&before, &f, &after]);
        let text = concat(&[&before, &after]);
        for at in 0..=stream.len() {
            let pieces = [&stream[..at], &stream[at..]];
            let what = format!("{form:?} {} bytes, split at {at}", plain.len());
            check(&run(&pieces, None), slice::from_ref(&f), &[], &text, &what);
            let out = run(&pieces, Some(&mut decryptor()));
            check(
                &out,
                slice::from_ref(&f),
                slice::from_ref(&plain),
                &text,
                &what,
            );
        }
    }
}

#[test]
fn a_stream_of_frames_split_anywhere_and_byte_by_byte() {
    let plains: Vec<Vec<u8>> = cases().into_iter().map(|(p, _)| p).collect();
    let frames: Vec<Vec<u8>> = cases()
        .into_iter()
        .enumerate()
        .map(|(i, (p, form))| frame(form, 10 + i as u32, &p))
        .collect();
    let mut stream = noise(7, 30);
    let mut text = stream.clone();
    for (i, f) in frames.iter().enumerate() {
        // Frames back to back too, as a meter sends them.
        let gap = if i % 2 == 0 {
            noise(50 + i as u32, 25)
        } else {
            Vec::new()
        };
        stream.extend_from_slice(f);
        stream.extend_from_slice(&gap);
        text.extend_from_slice(&gap);
    }
    let mut x: u32 = 99;
    let mut cuts = |n: usize| {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        (x >> 8) as usize % (n + 1)
    };
    for round in 0..300 {
        let (a, b) = (cuts(stream.len()), cuts(stream.len()));
        let (a, b) = (a.min(b), a.max(b));
        let pieces = [&stream[..a], &stream[a..b], &stream[b..]];
        let what = format!("round {round}: cut at {a} and {b}");
        check(&run(&pieces, None), &frames, &[], &text, &what);
        check(
            &run(&pieces, Some(&mut decryptor())),
            &frames,
            &plains,
            &text,
            &what,
        );
    }
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    check(
        &run(&bytes, Some(&mut decryptor())),
        &frames,
        &plains,
        &text,
        "byte by byte",
    );
}

#[test]
fn false_starts_in_the_noise_resync_and_say_why() {
    let good = frame(Form::Long2, 1, SAMPLES[0]);
    let fakes: [(&[u8], Option<Reject>); 7] = [
        (b"\xDB", None),
        (b"\xDB\x08", None),
        (b"\xDB\x08SA1", None),
        (
            b"\xDB\x08SAG\x01\x02\x03\x04\x05\x83\x01\x00\x00",
            Some(Reject::Oversize),
        ),
        (
            b"\xDB\x08SAG\x01\x02\x03\x04\x05\x82\x20\x00",
            Some(Reject::Oversize),
        ),
        (b"\xDB\x08SAG\x01\x02\x03\x04\x05\x80", Some(Reject::Length)),
        (
            b"\xDB\x08SAG\x01\x02\x03\x04\x05\x20\x31",
            Some(Reject::Security),
        ),
    ];
    for (fake, reason) in fakes {
        // The fake right before the frame: its 0xDB may be taken for the
        // start of the header and must give it back.
        let stream = concat(&[b"..", fake, &good, b".."]);
        let text = concat(&[b"..", fake, b".."]);
        for at in 0..=stream.len() {
            let (plain, keyed) = (
                run(&[&stream[..at], &stream[at..]], None),
                run(&[&stream[..at], &stream[at..]], Some(&mut decryptor())),
            );
            for out in [&plain, &keyed] {
                assert_eq!(out.frames, slice::from_ref(&good), "{fake:02X?} at {at}");
                assert_eq!(out.text, text, "{fake:02X?} at {at}");
                assert_eq!(out.rejects, Vec::from_iter(reason), "{fake:02X?} at {at}");
            }
            assert_eq!(keyed.telegrams, [SAMPLES[0].to_vec()]);
        }
    }
}

#[test]
fn a_text_capture_passes_through_unchanged_and_nothing_is_held() {
    for piece in [1, 7, 64, 4096, CAPTURE.len()] {
        let mut splitter = Splitter::new();
        let mut framer = Framer::new(Parity::None);
        let (mut text, mut telegrams) = (Vec::new(), 0);
        for chunk in CAPTURE.chunks(piece) {
            splitter.push(chunk, |p| match p {
                Piece::Text(run) => {
                    text.extend_from_slice(run);
                    framer.push(run, |e| {
                        telegrams += usize::from(matches!(e, Event::Telegram(_)))
                    });
                }
                other => panic!("{other:?} in a text capture"),
            });
            assert_eq!(splitter.buffered(), 0);
        }
        assert_eq!(text, CAPTURE, "pieces of {piece}");
        assert_eq!(telegrams, 566, "pieces of {piece}");
    }
}

/// What an 8N1 port delivers for a 7E1 meter: even parity in bit 7.
fn with_parity_bit(data: &[u8]) -> Vec<u8> {
    let parity = |b: u8| if b.count_ones() % 2 == 1 { b | 0x80 } else { b };
    data.iter().map(|&b| parity(b)).collect()
}

#[test]
fn seven_e1_read_as_8n1_never_starts_a_frame() {
    let every_byte = with_parity_bit(&(0..0x80).collect::<Vec<u8>>());
    assert!(
        every_byte.contains(&0xDB),
        "'[' with its parity bit is 0xDB"
    );
    assert!(
        !every_byte.contains(&0x08),
        "0x08 has odd parity: it arrives as 0x88"
    );
    // A capture with '[' (0xDB) before every line, and before letters.
    let mut text = Vec::new();
    for line in CAPTURE.split_inclusive(|&b| b == b'\n') {
        text.extend_from_slice(b"[");
        text.extend_from_slice(line);
        text.extend_from_slice(b"[ABCDEFGHIJKLMNOP[A\r\n");
    }
    let stream = with_parity_bit(&text);
    let mut splitter = Splitter::new();
    let (mut out, mut most) = (Vec::new(), 0);
    for chunk in stream.chunks(512) {
        splitter.push(chunk, |p| match p {
            Piece::Text(run) => out.extend_from_slice(run),
            other => panic!("{other:?} in a 7E1 stream"),
        });
        most = most.max(splitter.buffered());
    }
    assert_eq!(out, stream);
    assert!(most <= 14, "held {most} bytes");
}

#[test]
fn a_frame_of_the_largest_size_passes_and_one_byte_more_does_not() {
    // 8192 bytes in all: 13 of header, 17 of security byte, counter, tag.
    let plain = vec![b'x'; MAX_FRAME - 13 - 17];
    let largest = frame(Form::Long2, 1, &plain);
    assert_eq!(largest.len(), MAX_FRAME);
    let out = run(&[&largest], None);
    assert_eq!(out.frames, slice::from_ref(&largest));
    let too_large = frame(Form::Long2, 2, &[&plain[..], b"x"].concat());
    let out = run(&[&too_large, &largest], None);
    assert_eq!(out.rejects, [Reject::Oversize]);
    assert_eq!(out.frames, [largest]);
}

/// Issue 18: a truncated frame, or one whose length was damaged into a
/// longer one, cut short by the next frame of the meter. Over `tcp://` (an
/// ESP dongle, ser2net) the frames after it arrive in the same read as the
/// damaged one; they must all come out, as they do fed byte by byte (this
/// lost 80 of 100 in one read, and panicked in a debug build).
#[test]
fn the_frames_after_a_damaged_length_survive_a_burst() {
    let good: Vec<Vec<u8>> = (1..=100).map(lux_frame).collect();
    let plains: Vec<Vec<u8>> = (1..=100).map(lux).collect();
    let mut longer = lux_frame(0);
    longer[11] ^= 0x08; // 0x82 length, high byte: 2 KiB more than sent
    let mut cut = lux_frame(0);
    cut.truncate(200);
    for (what, bad) in [("damaged length", longer), ("truncated", cut)] {
        let stream = concat(&[&bad, &good.concat(), b"tail"]);
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        let reads: Vec<&[u8]> = stream.chunks(1460).collect();
        for (how, pieces) in [
            ("one read", vec![&stream[..]]),
            ("by byte", bytes),
            ("by 1460", reads),
        ] {
            let out = run(&pieces, Some(&mut decryptor()));
            let what = format!("{what}, {how}");
            // Counts first: a failing comparison of 100 frames prints 100 KB.
            let kept = out.frames.iter().filter(|f| good.contains(f)).count();
            assert_eq!(
                (out.frames.len(), kept),
                (good.len(), good.len()),
                "{what}: frames"
            );
            assert!(out.frames == good, "{what}: frames in order");
            assert!(out.telegrams == plains, "{what}: telegrams");
            assert_eq!(out.rejects, [Reject::Truncated], "{what}: rejects");
            assert_eq!(out.text, b"tail", "{what}: text");
        }
    }
}
