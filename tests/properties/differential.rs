//! The framer against the byte-at-a-time reference on generated input:
//! streams built to reach every branch of the rules, and any bytes.

use p1mux::framer::{Event, Framer, MAX_FRAME, Parity, Reject};
use p1mux_testkit::{CAPTURE, SAMPLES, with_crc, with_parity_bit};
use proptest::prelude::*;

use crate::hostile;
use crate::reference::RefFramer;

/// Everything a framer says about a telegram or reject, for comparing two
/// framers: reasons, payloads and flags.
#[derive(Debug, PartialEq, Eq, Clone)]
pub(crate) enum Said {
    Telegram {
        bytes: Vec<u8>,
        crc: bool,
        parity_in_bit7: bool,
        cr_restored: bool,
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
                cr_restored: t.cr_restored,
            },
            Event::Rejected { reason, frame } => Said::Rejected(reason, frame.map(<[u8]>::to_vec)),
        }
    }
}

/// Feeds the same pieces to the framer and to the reference, resetting
/// both where `resets` says; after every piece both must have said the
/// same things and hold the same state (noise count, bytes buffered).
/// Returns what they said, for the caller to look at.
pub(crate) fn differential(parity: Parity, input: &[u8], cuts: &[(usize, bool)]) -> Vec<Said> {
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
pub(crate) fn telegram_of_len(len: usize, crc: bool) -> Vec<u8> {
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
    if crc {
        with_crc(&body)
    } else {
        format!("{body}\r\n").into_bytes()
    }
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
    // CRs stripped (issue 18): all of them, or some; behind a cut head or
    // with a byte damaged now and then.
    let stripped = (
        0..SAMPLES.len(),
        any::<prop::sample::Index>(),
        any::<bool>(),
        prop::option::weighted(0.3, any::<prop::sample::Index>()),
        prop::option::weighted(0.2, (any::<prop::sample::Index>(), any::<u8>())),
    )
        .prop_map(|(s, head, every, cut, hit)| {
            let mut t = match cut {
                Some(cut) => {
                    let h = &SAMPLES[(s + 1) % SAMPLES.len()];
                    [&h[..cut.index(h.len())], SAMPLES[s]].concat()
                }
                None => SAMPLES[s].to_vec(),
            };
            // Every CR before an LF, or every one from some point on.
            let from = if every { 0 } else { head.index(t.len()) };
            let mut out = t[..from].to_vec();
            for (i, &b) in t.iter().enumerate().skip(from) {
                if !(b == b'\r' && t.get(i + 1) == Some(&b'\n')) {
                    out.push(b);
                }
            }
            t = out;
            if let Some((at, byte)) = hit {
                let at = at.index(t.len());
                t[at] = byte;
            }
            t
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
        b"\n!1234\n",
        b"\r\n!ABCD\n",
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
        2 => stripped,
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
    #![proptest_config(crate::config(512))]

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
