//! Every sample whole, split at every byte offset, fed byte by byte, in
//! noise, as 7E1 with and without the parity in bit 7; and the raw capture
//! of one meter.

use p1mux::framer::{Framer, Parity};
use p1mux_testkit::{CAPTURE, NAMED_SAMPLES, with_parity_bit};

use crate::{feed, frame_all, frame_bytewise, frame_split, noise};

#[test]
fn samples_are_what_the_readme_says() {
    for (name, sample) in NAMED_SAMPLES {
        assert_eq!(sample[0], b'/', "{name}");
        assert!(sample.ends_with(b"\r\n"), "{name}");
        let out = frame_all(Parity::None, sample);
        assert_eq!(
            out.telegrams,
            vec![sample.to_vec()],
            "{name}: {:?}",
            out.rejects
        );
    }
}

#[test]
fn every_sample_split_at_every_offset_in_noise() {
    for (i, (name, sample)) in NAMED_SAMPLES.iter().enumerate() {
        let mut stream = noise(i as u64, 40);
        stream.extend_from_slice(sample);
        stream.extend(noise(i as u64 + 100, 25));
        stream.extend_from_slice(sample);
        stream.extend(noise(i as u64 + 200, 60));
        for split in 0..=stream.len() {
            let out = frame_split(Parity::None, &stream, split);
            assert_eq!(
                out.telegrams,
                vec![sample.to_vec(), sample.to_vec()],
                "{name} split at {split}: rejects {:?}",
                out.rejects
            );
        }
        // And one byte at a time.
        let out = frame_bytewise(Parity::None, &stream);
        assert_eq!(out.telegrams.len(), 2, "{name} byte by byte");
    }
}

#[test]
fn every_sample_as_7e1_with_parity_in_bit7_split_everywhere() {
    for (name, sample) in NAMED_SAMPLES {
        let wire = with_parity_bit(sample);
        assert_eq!(wire[0], 0xAF, "'/' carries a parity bit");
        for split in 0..=wire.len() {
            let out = frame_split(Parity::Even, &wire, split);
            assert_eq!(
                out.telegrams,
                vec![sample.to_vec()],
                "{name} split at {split}"
            );
            assert_eq!(out.parity_in_bit7, vec![true]);
        }
    }
}

#[test]
fn seven_bit_delivery_under_7e1_passes_unchanged() {
    // A driver that honours 7E1 delivers plain 7-bit bytes.
    for (name, sample) in NAMED_SAMPLES {
        let out = frame_all(Parity::Even, sample);
        assert_eq!(out.telegrams, vec![sample.to_vec()], "{name}");
        assert_eq!(out.parity_in_bit7, vec![false]);
    }
}

#[test]
fn raw_capture_yields_566_telegrams() {
    let out = frame_all(Parity::None, CAPTURE);
    assert_eq!(out.telegrams.len(), 566);
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    // Split into the odd-sized reads a real port delivers.
    let mut framer = Framer::new(Parity::None);
    let chunks: Vec<&[u8]> = CAPTURE.chunks(1021).collect();
    let chunked = feed(&mut framer, &chunks);
    assert_eq!(chunked.telegrams, out.telegrams);
    // The capture starts mid-telegram: that tail is noise, not a telegram.
    assert!(framer.noise_bytes() > 0);
}
