//! What holds for any input: no panic, one frame of memory at most, the
//! same output however the input is split, every telegram in noise or
//! behind cut-off heads out once and in order, and nothing that fails its
//! CRC or parity ever out.

use p1mux::framer::Parity;
use p1mux_testkit::{SAMPLES, crc16, with_parity_bit};
use proptest::prelude::*;

use crate::{frame, hostile, noise, valid};

/// Whether a telegram's CRC, computed independently of p1mux (the kit's:
/// the crc crate directly), matches the one it carries; telegrams without
/// one pass. (Its line ends in CRLF, or, when the CRC was made over
/// bare LFs, in LF: issue 18.)
fn crc_holds(t: &[u8]) -> bool {
    let bang = t
        .iter()
        .rposition(|&b| b == b'!')
        .expect("a telegram has a '!' line");
    let digits = std::str::from_utf8(&t[bang + 1..])
        .unwrap()
        .trim_end_matches(['\r', '\n']);
    digits.is_empty() || u16::from_str_radix(digits, 16) == Ok(crc16(&t[..=bang]))
}

proptest! {
    #![proptest_config(crate::config(1024))]

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

    #[test]
    fn a_cut_head_never_costs_the_telegram_behind_it(
        picks in prop::collection::vec((
            prop::collection::vec((0..SAMPLES.len(), any::<prop::sample::Index>()), 0..3),
            0..SAMPLES.len(),
            noise(),
        ), 1..5),
        parity_in_bit7 in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        // Heads of any sample, cut anywhere, right before telegrams of one
        // meter (with or without CRC).
        let crc = picks[0].1 >= 2;
        let mut input = Vec::new();
        let mut sent = Vec::new();
        for (heads, pick, noise) in &picks {
            let sample = SAMPLES[if crc { 2 + pick % 5 } else { pick % 2 }];
            input.extend_from_slice(noise);
            for (head, cut) in heads {
                let head = SAMPLES[*head];
                let head = &head[..cut.index(head.len())];
                input.extend(if parity_in_bit7 { with_parity_bit(head) } else { head.to_vec() });
            }
            input.extend(if parity_in_bit7 { with_parity_bit(sample) } else { sample.to_vec() });
            sent.push(sample.to_vec());
        }
        let parity = if parity_in_bit7 { Parity::Even } else { Parity::None };
        prop_assert_eq!(valid(&frame(parity, &input, &cuts)), sent);
    }
}
