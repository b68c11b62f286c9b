//! Framer properties over generated input (proptest): it never panics,
//! holds at most one frame of memory, recovers every telegram embedded in
//! noise exactly once, never emits what fails its CRC or parity, and gives
//! the same output however the input is split.

mod common;

use common::{SAMPLES, with_parity_bit};
use p1mux::framer::{Event, Framer, MAX_FRAME, Parity, Reject, crc16};
use proptest::prelude::*;

/// What the framer said, in a comparable form.
#[derive(Debug, PartialEq, Eq, Clone)]
enum Out {
    Valid(Vec<u8>),
    Rejected(Reject, Option<Vec<u8>>),
}

/// Feeds `input` cut at `cuts` (any order, any values), checking the
/// memory bound after every piece.
fn frame(parity: Parity, input: &[u8], cuts: &[usize]) -> Vec<Out> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    let mut framer = Framer::new(parity);
    let mut out = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([input.len()]) {
        framer.push(&input[start..cut], |e| {
            out.push(match e {
                Event::Telegram(t) => Out::Valid(t.bytes.to_vec()),
                Event::Rejected { reason, frame } => {
                    Out::Rejected(reason, frame.map(<[u8]>::to_vec))
                }
            })
        });
        assert!(
            framer.buffered() <= MAX_FRAME,
            "holds {} bytes",
            framer.buffered()
        );
        start = cut;
    }
    out
}

fn valid(out: &[Out]) -> Vec<Vec<u8>> {
    out.iter()
        .filter_map(|o| match o {
            Out::Valid(t) => Some(t.clone()),
            Out::Rejected(..) => None,
        })
        .collect()
}

/// Noise that cannot start a telegram: anything but '/' (0x2F) and its
/// parity-in-bit-7 form (0xAF).
fn noise() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        any::<u8>().prop_filter("no start byte", |b| *b != b'/' && *b != 0xAF),
        0..120,
    )
}

/// A mix of random bytes and pieces of real telegrams: the inputs most
/// likely to confuse a framer.
fn hostile() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        (
            0..SAMPLES.len(),
            any::<prop::sample::Index>(),
            any::<prop::sample::Index>()
        )
            .prop_map(|(s, a, b)| {
                let t = SAMPLES[s];
                let (a, b) = (a.index(t.len()), b.index(t.len()));
                t[a.min(b)..a.max(b)].to_vec()
            }),
        Just(b"\r\n!".to_vec()),
        Just(b"/".to_vec()),
        Just(vec![0xAF]),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

/// Whether a telegram's CRC, computed here independently, matches the one
/// it carries; telegrams without one pass.
fn crc_holds(t: &[u8]) -> bool {
    let bang = t
        .iter()
        .rposition(|&b| b == b'!')
        .expect("a telegram has a '!' line");
    let digits = std::str::from_utf8(&t[bang + 1..t.len() - 2]).unwrap();
    digits.is_empty() || u16::from_str_radix(digits, 16) == Ok(crc16(&t[..=bang]))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_and_split_never_matters(
        input in hostile(),
        even in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let parity = if even { Parity::Even } else { Parity::None };
        let whole = frame(parity, &input, &[]);
        let split = frame(parity, &input, &cuts);
        prop_assert_eq!(&whole, &split);
        for t in valid(&whole) {
            prop_assert!(crc_holds(&t), "emitted a telegram whose CRC fails");
        }
    }

    #[test]
    fn telegrams_in_noise_come_out_once_in_order(
        picks in prop::collection::vec((0..SAMPLES.len(), noise()), 1..6),
        tail in noise(),
        parity_in_bit7 in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        // One meter sends one kind of telegram: with or without CRC.
        let crc = picks[0].0 >= 2;
        let mut input = Vec::new();
        let mut sent = Vec::new();
        for (pick, noise) in &picks {
            let sample = SAMPLES[if crc { 2 + pick % 5 } else { pick % 2 }];
            input.extend_from_slice(noise);
            input.extend(if parity_in_bit7 { with_parity_bit(sample) } else { sample.to_vec() });
            sent.push(sample.to_vec());
        }
        input.extend_from_slice(&tail);
        let parity = if parity_in_bit7 { Parity::Even } else { Parity::None };
        prop_assert_eq!(valid(&frame(parity, &input, &cuts)), sent);
    }

    #[test]
    fn corrupted_crc_telegrams_are_never_emitted(
        picks in prop::collection::vec(2..SAMPLES.len(), 1..5),
        damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        // A clean telegram first: from then on, CRCs are expected.
        let mut input = SAMPLES[5].to_vec();
        let first_damaged = input.len();
        for pick in &picks {
            input.extend_from_slice(SAMPLES[*pick]);
        }
        for (at, byte) in &damage {
            let at = first_damaged + at.index(input.len() - first_damaged);
            input[at] = *byte;
        }
        for t in valid(&frame(Parity::None, &input, &cuts)) {
            prop_assert!(crc_holds(&t), "emitted a telegram whose CRC fails");
            prop_assert!(t.ends_with(b"\r\n") && t[t.len() - 7] == b'!', "a CRC'd telegram");
        }
    }

    #[test]
    fn parity_errors_are_never_emitted(
        picks in prop::collection::vec(0..2usize, 1..4),
        flips in prop::collection::vec(any::<prop::sample::Index>(), 1..6),
        bits in prop::collection::vec(0..8u8, 6),
        seven_bit_driver in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        // DSMR 2.2/3.0: no CRC, so parity is the only guard.
        let plain: Vec<u8> = picks.iter().flat_map(|p| SAMPLES[*p].to_vec()).collect();
        let mut input = if seven_bit_driver { plain.clone() } else { with_parity_bit(&plain) };
        let mut damaged = std::collections::BTreeSet::new();
        for (flip, bit) in flips.iter().zip(&bits) {
            let at = flip.index(input.len());
            if !damaged.insert(at) {
                continue; // two flips in one byte would cancel out
            }
            if seven_bit_driver {
                input[at] = 0; // the driver marks a parity error as NUL
            } else {
                input[at] ^= 1 << bit; // one flipped bit: odd parity
            }
        }
        let out = valid(&frame(Parity::Even, &input, &cuts));
        // Whatever comes out is an undamaged telegram, byte for byte.
        for t in &out {
            prop_assert!(picks.iter().any(|p| SAMPLES[*p] == t.as_slice()), "emitted a damaged telegram");
        }
        // And every telegram no flip touched comes out.
        let mut start = 0;
        let mut intact = 0;
        for p in &picks {
            let len = SAMPLES[*p].len();
            if !damaged.iter().any(|&d| d >= start && d < start + len) {
                intact += 1;
            }
            start += len;
        }
        prop_assert_eq!(out.len(), intact);
    }
}
