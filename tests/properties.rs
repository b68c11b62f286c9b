//! Framer properties over generated input (proptest): it never panics,
//! holds at most one frame of memory, recovers every telegram embedded in
//! noise exactly once, and every one behind cut-off heads, never emits what
//! fails its CRC or parity, and gives the same output however the input is
//! split. And it says exactly what the byte-at-a-time framer it replaced
//! says (the differential tests at the end, against tests/reference, which
//! was changed on purpose once, for issue 10's resync after a cut-off head:
//! see its doc).

mod common;
mod reference;

use common::{CAPTURE, SAMPLES, with_parity_bit};
use p1mux::framer::{Event, Framer, MAX_FRAME, Parity, Reject, crc16};
use proptest::prelude::*;
use reference::RefFramer;

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

/// Everything a framer says about a telegram or reject, for comparing two
/// framers: reasons, payloads and flags.
#[derive(Debug, PartialEq, Eq, Clone)]
enum Said {
    Telegram {
        bytes: Vec<u8>,
        crc: bool,
        parity_in_bit7: bool,
    },
    Rejected(Reject, Option<Vec<u8>>),
}

impl Said {
    fn from(event: Event<'_>) -> Said {
        match event {
            Event::Telegram(t) => Said::Telegram {
                bytes: t.bytes.to_vec(),
                crc: t.crc,
                parity_in_bit7: t.parity_in_bit7,
            },
            Event::Rejected { reason, frame } => Said::Rejected(reason, frame.map(<[u8]>::to_vec)),
        }
    }
}

/// Feeds the same pieces to the framer and to the reference, resetting
/// both where `resets` says; after every piece both must have said the
/// same things and hold the same state (noise count, bytes buffered).
/// Returns what they said, for the caller to look at.
fn differential(parity: Parity, input: &[u8], cuts: &[(usize, bool)]) -> Vec<Said> {
    let mut cuts: Vec<(usize, bool)> = cuts
        .iter()
        .map(|&(c, reset)| (c % (input.len() + 1), reset))
        .collect();
    cuts.sort_unstable();
    let mut fast = Framer::new(parity);
    let mut slow = RefFramer::new(parity);
    let (mut fast_said, mut slow_said) = (Vec::new(), Vec::new());
    let (mut start, mut checked) = (0, 0);
    for (cut, reset) in cuts.into_iter().chain([(input.len(), false)]) {
        let piece = &input[start..cut];
        fast.push(piece, |e| fast_said.push(Said::from(e)));
        slow.push(piece, |e| slow_said.push(Said::from(e)));
        // Only what this piece added: comparing everything each time
        // would be quadratic in reads of one byte.
        assert_eq!(
            fast_said[checked..],
            slow_said[checked..],
            "{parity:?}, after the piece {start}..{cut}"
        );
        checked = fast_said.len();
        assert_eq!(
            fast.noise_bytes(),
            slow.noise_bytes(),
            "noise, {start}..{cut}"
        );
        assert_eq!(fast.buffered(), slow.buffered(), "buffered, {start}..{cut}");
        if reset {
            fast.reset();
            slow.reset();
        }
        start = cut;
    }
    fast_said
}

/// A telegram of exactly `len` bytes (at least 16) with a valid CRC, or
/// none: for the edges of [`MAX_FRAME`].
fn telegram_of_len(len: usize, crc: bool) -> Vec<u8> {
    let fixed = if crc {
        "/X\r\n\r\n\r\n!ABCD\r\n".len()
    } else {
        "/X\r\n\r\n\r\n!\r\n".len()
    };
    let mut body = "/X\r\n\r\n".to_string();
    // Data lines of up to 60 bytes, as meters send them.
    let mut filler = len.saturating_sub(fixed);
    while filler > 0 {
        let line = filler.min(60);
        if line >= 3 {
            body.push_str(&"7".repeat(line - 2));
            body.push_str("\r\n");
        } else {
            body.push_str(&"7".repeat(line));
        }
        filler -= line;
    }
    body.push_str("\r\n!");
    let out = if crc {
        format!("{body}{:04X}\r\n", crc16(body.as_bytes()))
    } else {
        format!("{body}\r\n")
    };
    out.into_bytes()
}

/// Streams built to reach every branch: whole, damaged and cut telegrams
/// (plain, with parity in bit 7, or 7-bit), telegrams at the edge of
/// [`MAX_FRAME`], the tokens the rules turn on, and noise.
fn mixed() -> impl Strategy<Value = Vec<u8>> {
    let telegram = (0..SAMPLES.len(), any::<bool>()).prop_map(|(s, bit7)| {
        if bit7 {
            with_parity_bit(SAMPLES[s])
        } else {
            SAMPLES[s].to_vec()
        }
    });
    let damaged = (
        0..SAMPLES.len(),
        any::<bool>(),
        prop::collection::vec((any::<prop::sample::Index>(), 0..5u8, any::<u8>()), 1..4),
    )
        .prop_map(|(s, bit7, hits)| {
            let mut t = if bit7 {
                with_parity_bit(SAMPLES[s])
            } else {
                SAMPLES[s].to_vec()
            };
            for (at, how, byte) in hits {
                if t.is_empty() {
                    break;
                }
                let at = at.index(t.len());
                match how {
                    0 => t[at] = byte,
                    1 => t[at] ^= 1 << (byte % 8),
                    2 => t[at] = 0,
                    3 => t[at] |= 0x80,
                    _ => {
                        t.truncate(at);
                    }
                }
            }
            t
        });
    // A head cut off anywhere, right before a telegram (issue 10).
    let behind_head = (
        0..SAMPLES.len(),
        any::<prop::sample::Index>(),
        0..SAMPLES.len(),
        any::<bool>(),
    )
        .prop_map(|(h, cut, s, bit7)| {
            let head = &SAMPLES[h][..cut.index(SAMPLES[h].len())];
            let t = [head, SAMPLES[s]].concat();
            if bit7 { with_parity_bit(&t) } else { t }
        });
    let edge = (MAX_FRAME - 12..MAX_FRAME + 4, any::<bool>(), any::<bool>()).prop_map(
        |(len, crc, bit7)| {
            let t = telegram_of_len(len, crc);
            if bit7 { with_parity_bit(&t) } else { t }
        },
    );
    let token = prop::sample::select(vec![
        &b"\r\n"[..],
        b"\n",
        b"\r",
        b"\r!",
        b"\r/",
        b"\r\xAF",
        b"\r\n!",
        b"!",
        b"/",
        b"\n/",
        b"\xAF",
        b"\n\xAF",
        b"\x8D\n\xAF",
        b"\x8D\n!",
        b"\r\n!\r\n",
        b"\r\n!1234\r\n",
        b"\r\n!12345\r\n",
        b"\r\n!ab\r\n",
        b"\r\n!\n",
        b"\r\n!\r\r\n",
        b"\x00",
        b"\xFF",
        b"\x80",
        b"\x8A",
        b"/X\r\n\r\n",
        b"\xAFX\x8D\n\x8D\n",
    ])
    .prop_map(<[u8]>::to_vec);
    let capture = (any::<prop::sample::Index>(), 0..3000usize).prop_map(|(at, len)| {
        let at = at.index(CAPTURE.len());
        CAPTURE[at..(at + len).min(CAPTURE.len())].to_vec()
    });
    // Bytes the rules look at, densely.
    let specials = prop::collection::vec(
        prop::sample::select(&b"\r\n!//\xAF\x8D\x8A1A\x00\xB1"[..]),
        0..60,
    );
    let piece = prop_oneof![
        3 => telegram,
        2 => behind_head,
        2 => specials,
        3 => damaged,
        1 => edge,
        4 => token,
        2 => capture,
        2 => prop::collection::vec(any::<u8>(), 0..40),
        1 => prop::collection::vec(0x20..0x7Fu8, 0..200),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn says_what_the_byte_at_a_time_framer_said(
        input in mixed(),
        even in any::<bool>(),
        cuts in prop::collection::vec((any::<usize>(), prop::bool::weighted(0.1)), 0..16),
        small_reads in prop::option::weighted(0.25, 1..9usize),
    ) {
        let parity = if even { Parity::Even } else { Parity::None };
        let mut cuts = cuts;
        if let Some(read) = small_reads {
            cuts.extend((read..input.len()).step_by(read).map(|c| (c, false)));
        }
        differential(parity, &input, &cuts);
    }

    #[test]
    fn says_what_the_byte_at_a_time_framer_said_on_any_bytes(
        input in hostile(),
        even in any::<bool>(),
        cuts in prop::collection::vec((any::<usize>(), Just(false)), 0..12),
    ) {
        let parity = if even { Parity::Even } else { Parity::None };
        differential(parity, &input, &cuts);
    }
}

/// The whole capture and long damaged streams against the reference, in
/// reads of many sizes: the fast paths run over many telegrams in a row.
#[test]
fn long_streams_match_the_byte_at_a_time_framer() {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let bit7 = with_parity_bit(CAPTURE);
    for (input, parity) in [
        (CAPTURE.to_vec(), Parity::None),
        (bit7.clone(), Parity::Even),
        (CAPTURE.to_vec(), Parity::Even),
        (bit7, Parity::None),
    ] {
        for read in [1, 7, 64, 1021, 4096, 16384, input.len()] {
            let cuts: Vec<(usize, bool)> = (read..input.len())
                .step_by(read)
                .map(|c| (c, false))
                .collect();
            differential(parity, &input, &cuts);
        }
        // One damaged byte every ~2 KB, of every kind, in 4 KiB reads.
        let mut damaged = input.clone();
        for _ in 0..damaged.len() / 2048 {
            let at = (next() % damaged.len() as u64) as usize;
            damaged[at] = match next() % 4 {
                0 => next() as u8,
                1 => damaged[at] ^ 1 << (next() % 8),
                2 => 0,
                _ => b'/',
            };
        }
        let cuts: Vec<(usize, bool)> = (4096..damaged.len())
            .step_by(4096)
            .map(|c| (c, false))
            .collect();
        differential(parity, &damaged, &cuts);
    }
    // Oversize: one endless frame, then a telegram.
    let mut endless = b"/XXX5 endless\r\n".to_vec();
    while endless.len() < 3 * MAX_FRAME {
        endless.extend_from_slice(b"1-0:99.99.0(0123456789)\r\n");
    }
    endless.extend_from_slice(SAMPLES[3]);
    for read in [1, 100, 4096, endless.len()] {
        let cuts: Vec<(usize, bool)> = (read..endless.len())
            .step_by(read)
            .map(|c| (c, false))
            .collect();
        differential(Parity::None, &endless, &cuts);
    }
}

/// Inputs built for the places where issue 10's rules choose, against the
/// reference: heads before telegrams at the edge of [`MAX_FRAME`] (the
/// frame drops its head while on any line, the '!' line included), two
/// suffixes that both pass their CRC, several header lines.
#[test]
fn where_the_resync_rules_choose_they_match_the_byte_at_a_time_framer() {
    let head = b"/0-0:96.1.1(1234567890";
    for len in MAX_FRAME - 12..=MAX_FRAME + 2 {
        for crc in [true, false] {
            let t = telegram_of_len(len, crc);
            for cut in 1..=head.len() {
                let input = [&head[..cut], &t].concat();
                let said = differential(Parity::None, &input, &[]);
                if crc && t.len() <= MAX_FRAME {
                    let want = Said::Telegram {
                        bytes: t.clone(),
                        crc: true,
                        parity_in_bit7: false,
                    };
                    assert_eq!(said.last(), Some(&want), "{len} after {cut}");
                }
                let wire = with_parity_bit(&input);
                differential(Parity::Even, &wire, &[(cut, false), (MAX_FRAME, false)]);
            }
        }
    }
    // A head longer than the telegram: the frame is moved to the front of
    // its buffer while on the '!' line.
    let long_head = [&b"/0-0:96.13.0("[..], &[b'4'; 5000]].concat();
    for len in MAX_FRAME - 5013..MAX_FRAME - 5000 {
        let t = telegram_of_len(len, true);
        let input = [&long_head[..], &t].concat();
        let said = differential(Parity::None, &input, &[(5000, false)]);
        let want = Said::Telegram {
            bytes: t,
            crc: true,
            parity_in_bit7: false,
        };
        assert_eq!(said.last(), Some(&want), "{len}");
    }
    let tail = "/ISK5\\2M550T-1012\r\n\r\n1-0:1.8.1(000123.456*kWh)\r\n!";
    let want = crc16(tail.as_bytes());
    let longer = (0..)
        .map(|n| format!("/A{n:06}{tail}"))
        .find(|t| crc16(t.as_bytes()) == want)
        .unwrap();
    let two = format!("/0-0:96.1.1(12{longer}{want:04X}\r\n");
    let headers = [
        &SAMPLES[1][..310],
        &SAMPLES[1][..7],
        b"/X/ABC5\r\n\r\n1-0:1(",
        SAMPLES[0],
    ]
    .concat();
    for input in [two.as_bytes(), &headers] {
        for read in [1, 7, input.len()] {
            let cuts: Vec<(usize, bool)> = (read..input.len())
                .step_by(read)
                .map(|c| (c, false))
                .collect();
            differential(Parity::None, input, &cuts);
        }
    }
}
