//! Framer throughput on a real capture (566 telegrams from an Iskra AM550),
//! fed in 4 KiB pieces as the gateway reads them: as 8N1 text, as 7E1 read
//! by a port that ignores parity (parity in bit 7), and as 7-bit text under
//! 7E1 parity awareness. Also random bytes (full of false starts), and the
//! detector's byte counting, which runs on every byte read while the serial
//! settings are being detected. And frames full of '/', the worst case
//! for the search for a telegram behind a cut-off head.
//!
//! Run: `cargo bench --bench framer`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use p1mux::detect::Observation;
use p1mux::framer::{Event, Framer, MAX_FRAME, Parity};
use p1mux_testkit::{CAPTURE, with_parity_bit};

/// How many telegrams [`CAPTURE`] holds.
const TELEGRAMS: usize = 566;
/// What one read from the port typically returns in a burst.
const CHUNK: usize = 4096;

/// Frames `input` in `CHUNK`-sized pieces; returns (telegrams, rejects,
/// telegram bytes) so the work cannot be optimised away.
fn frame(framer: &mut Framer, input: &[u8]) -> (usize, usize, usize) {
    framer.reset();
    let (mut good, mut bad, mut bytes) = (0, 0, 0);
    for chunk in input.chunks(CHUNK) {
        framer.push(chunk, |event| match event {
            Event::Telegram(t) => {
                good += 1;
                bytes += black_box(t.bytes).len();
            }
            Event::Rejected { .. } => bad += 1,
        });
    }
    (good, bad, bytes)
}

fn throughput(c: &mut Criterion) {
    let bit7 = with_parity_bit(CAPTURE);
    let cases: [(&str, &[u8], Parity); 3] = [
        ("8n1", CAPTURE, Parity::None),
        ("7e1_parity_in_bit7", &bit7, Parity::Even),
        ("7bit_under_even", CAPTURE, Parity::Even),
    ];
    let mut group = c.benchmark_group("framer");
    for (name, input, parity) in cases {
        let mut framer = Framer::new(parity);
        // A broken framer must not be measured as a fast one.
        let (good, bad, _) = frame(&mut framer, input);
        assert_eq!((good, bad), (TELEGRAMS, 0), "{name}: telegrams, rejects");
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function(name, |b| b.iter(|| frame(&mut framer, black_box(input))));
    }
    group.finish();
}

fn detect_counting(c: &mut Criterion) {
    let bit7 = with_parity_bit(CAPTURE);
    let mut group = c.benchmark_group("detect");
    group.throughput(Throughput::Bytes(CAPTURE.len() as u64));
    for (name, input, parity) in [
        ("8n1", CAPTURE, Parity::None),
        ("7e1_parity_in_bit7", &bit7, Parity::Even),
    ] {
        let mut seen = Observation::default();
        seen.bytes(input, parity);
        assert_eq!(
            (seen.nul, seen.not_text),
            (0, 0),
            "{name}: the capture is text"
        );
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut seen = Observation::default();
                for chunk in black_box(input).chunks(CHUNK) {
                    seen.bytes(chunk, parity);
                }
                seen.not_text
            })
        });
    }
    group.finish();
}

/// 1 MiB of random bytes: what a wrong baud rate or an encrypted meter
/// delivers while the settings are being detected. Full of false starts.
fn noise(c: &mut Criterion) {
    let mut x: u32 = 12345;
    let mut buf = vec![0u8; 1 << 20];
    for b in &mut buf {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *b = (x >> 16) as u8;
    }
    let mut group = c.benchmark_group("noise");
    group.throughput(Throughput::Bytes(buf.len() as u64));
    for (name, parity) in [("none", Parity::None), ("even", Parity::Even)] {
        let mut framer = Framer::new(parity);
        let (good, bad, _) = frame(&mut framer, &buf);
        assert_eq!(good, 0, "{name}: telegrams in noise");
        assert!(bad > 1000, "{name}: {bad} false starts rejected");
        group.bench_function(name, |b| b.iter(|| frame(&mut framer, black_box(&buf))));
    }
    group.finish();
}

/// 1 MiB of '/': frames of 1 and 8 KiB whose '!' line fails the CRC (every
/// '/' is a place the telegram might begin), and one endless frame, which
/// drops one '/' of its head for every byte past [`MAX_FRAME`]. The search
/// is linear: both frame sizes run at the same speed per byte.
fn slashes(c: &mut Criterion) {
    let crc_frames = |len: usize| {
        let mut frames = Vec::new();
        while frames.len() < 1 << 20 {
            frames.extend(std::iter::repeat_n(b'/', len - 9));
            frames.extend_from_slice(b"\r\n!ABCD\r\n");
        }
        frames
    };
    let cases = [
        ("crc_frames_1k", crc_frames(1024)),
        ("crc_frames_8k", crc_frames(MAX_FRAME)),
        ("endless", vec![b'/'; 1 << 20]),
    ];
    let mut group = c.benchmark_group("slashes");
    for (name, input) in &cases {
        let mut framer = Framer::new(Parity::None);
        let (good, bad, _) = frame(&mut framer, input);
        assert!(good + bad > 0, "{name}: nothing framed");
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function(*name, |b| b.iter(|| frame(&mut framer, black_box(input))));
    }
    group.finish();
}

criterion_group!(benches, throughput, detect_counting, noise, slashes);
criterion_main!(benches);
