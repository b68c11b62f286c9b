//! Unit tests of the framer's pieces; tests/framer/ and
//! tests/properties/ test the whole on real telegrams.

use super::runs::{all_ascii_and_not_nul, all_even_parity_and_not_nul};
use super::*;

fn run(parity: Parity, input: &[u8]) -> (Vec<Vec<u8>>, Vec<Reject>) {
    let mut framer = Framer::new(parity);
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    framer.push(input, |event| match event {
        Event::Telegram(t) => good.push(t.bytes.to_vec()),
        Event::Rejected { reason, .. } => bad.push(reason),
    });
    (good, bad)
}

#[test]
fn run_checks_agree_with_decode_for_every_byte_anywhere() {
    // Runs of every length up to 40 around one byte of each value, so
    // that each lane of the 8-byte words and the tail is hit; '0' is good
    // in both readings.
    for bit7_parity in [false, true] {
        let mut framer = Framer::new(Parity::Even);
        framer.bit7_parity = bit7_parity;
        let check = if bit7_parity {
            all_even_parity_and_not_nul
        } else {
            all_ascii_and_not_nul
        };
        for raw in 0..=255u8 {
            let good = framer.decode(raw).is_ok();
            for len in 1..=40 {
                for at in 0..len {
                    let mut run = vec![b'0'; len];
                    run[at] = raw;
                    assert_eq!(check(&run), good, "{raw:#04x} at {at} of {len}");
                    let bad = framer.first_bad(&run).map(|(at, _)| at);
                    assert_eq!(bad, (!good).then_some(at), "{raw:#04x} at {at} of {len}");
                }
            }
        }
        assert!(check(&[]));
    }
}

#[test]
fn crc_check_value() {
    assert_eq!(crc16(b"123456789"), 0xBB3D);
}

#[test]
fn minimal_telegrams() {
    let (good, bad) = run(Parity::None, b"/X\r\n\r\n!\r\n");
    assert_eq!(good, vec![b"/X\r\n\r\n!\r\n".to_vec()]);
    assert!(bad.is_empty());
    let body = b"/X\r\n\r\n!";
    let tel = format!(
        "{}{:04X}\r\n",
        std::str::from_utf8(body).unwrap(),
        crc16(body)
    );
    let (good, _) = run(Parity::None, tel.as_bytes());
    assert_eq!(good.len(), 1);
}

#[test]
fn bang_inside_a_line_is_data() {
    let (good, _) = run(Parity::None, b"/X\r\n\r\n0-0:96.13.0(a!b)\r\n!\r\n");
    assert_eq!(good.len(), 1);
    assert!(good[0].ends_with(b"(a!b)\r\n!\r\n"));
}

#[test]
fn five_crc_digits_is_a_bad_trailer() {
    let (good, bad) = run(Parity::None, b"/X\r\n\r\n!12345\r\n");
    assert!(good.is_empty());
    assert_eq!(bad, vec![Reject::Trailer]);
}

#[test]
fn bang_line_needs_crlf() {
    let (good, bad) = run(Parity::None, b"/X\r\n\r\n!\n");
    assert!(good.is_empty());
    assert_eq!(bad, vec![Reject::Trailer]);
}

#[test]
fn no_crc_after_crc_is_damage_until_reset() {
    let body = b"/X\r\n\r\n!";
    let with = format!(
        "{}{:04X}\r\n",
        std::str::from_utf8(body).unwrap(),
        crc16(body)
    );
    let without = b"/X\r\n\r\n!\r\n";
    let mut framer = Framer::new(Parity::None);
    let mut seen = Vec::new();
    for input in [&without[..], with.as_bytes(), without] {
        framer.push(input, |e| {
            seen.push(match e {
                Event::Telegram(t) => Ok(t.crc),
                Event::Rejected { reason, .. } => Err(reason),
            })
        });
    }
    assert_eq!(seen, vec![Ok(false), Ok(true), Err(Reject::MissingCrc)]);
    framer.reset();
    let mut valid = 0;
    framer.push(without, |e| {
        valid += usize::from(matches!(e, Event::Telegram(_)))
    });
    assert_eq!(valid, 1, "a new meter may be DSMR 2.2");
}

/// The CRC register after feeding `bytes` from `register`.
fn feed_from(register: u16, bytes: &[u8]) -> u16 {
    let mut digest = CRC16.digest_with_initial(register.reverse_bits());
    digest.update(bytes);
    digest.finalize()
}

#[test]
fn crc_is_linear_and_zero_bytes_can_be_unfed() {
    let data = b"/ISK5\\2M550T-1012\r\n\r\n1-3:0.2.8(50)\r\n!";
    // Feeding from 0 is the checksum; feeding on continues it.
    assert_eq!(feed_from(0, data), crc16(data));
    assert_eq!(feed_from(crc16(&data[..7]), &data[7..]), crc16(data));
    // crc(P || S) = crc(S) ^ Z^|S|(crc(P)).
    for at in 0..data.len() {
        let (p, s) = data.split_at(at);
        let zeros = vec![0; s.len()];
        assert_eq!(crc16(data), crc16(s) ^ feed_from(crc16(p), &zeros), "{at}");
    }
    // Z^-n undoes n zero bytes, for every register and for long runs.
    for r in 0..=u16::MAX {
        assert_eq!(resync::unshift(feed_from(r, &[0]), 1), r);
    }
    let zeros = vec![0; MAX_FRAME];
    for n in [0, 1, 2, 3, 255, 256, 1000, 4097, MAX_FRAME - 1, MAX_FRAME] {
        for r in [1, 0x8000, 0xBB3D, 0xFFFF] {
            assert_eq!(resync::unshift(feed_from(r, &zeros[..n]), n), r, "{n}");
        }
    }
}

#[test]
fn the_one_pass_search_finds_what_computing_each_suffix_finds() {
    // Frames of '/', letters and line ends; the CRC sent is that of a
    // random suffix, or random. Compared with each suffix's CRC computed
    // afresh.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut found = 0;
    for round in 0..3000 {
        let len = 2 + (next() % if round % 100 == 0 { 8000 } else { 200 }) as usize;
        let mut frame: Vec<u8> = (0..len)
            .map(|_| b"//AB\r\n5"[(next() % 7) as usize])
            .collect();
        frame[0] = b'/';
        frame.push(b'!');
        let sent = if next() % 4 == 0 {
            next() as u16
        } else {
            crc16(&frame[(next() % frame.len() as u64) as usize..])
        };
        let whole = crc16(&frame);
        let expected = (1..frame.len()).find(|&j| frame[j] == b'/' && crc16(&frame[j..]) == sent);
        let got = if whole == sent {
            continue;
        } else {
            resync::crc_suffix(&frame, whole ^ sent)
        };
        assert_eq!(got, expected, "round {round}");
        found += usize::from(got.is_some());
    }
    assert!(found > 300, "{found}");
}

#[test]
fn header_lines_are_those_of_the_dsmr_form() {
    let last = |body: &[u8]| resync::last_header(body);
    // A cut head, then a header: the header's '/'.
    assert_eq!(last(b"/ISk5\\2MT3/ISk5\\2MT382-1003\r\n\r\n1-0"), Some(10));
    assert_eq!(last(b"/X\r\n\r\n0-0:96.1.1(12/ABc5 x y\r\n\r\n"), Some(19));
    // Of several, the last; the frame's own start is never one.
    assert_eq!(last(b"/X/ABC5\r\n\r\n1-0:1(/ISk5\\2\r\n\r\n"), Some(17));
    assert_eq!(last(b"/ISk5\\2MT382-1003\r\n\r\n1-0:1.8.1(1)\r\n"), None);
    // Holley's inner '/' is not of the form, nor is a gateway's ident,
    // a header without its empty line, or one with a byte no ident has.
    assert_eq!(last(b"/HLY5/D545-METER\r\n\r\n"), None);
    assert_eq!(last(b"/X1/NWA-WARMTELINK\r\n\r\n"), None);
    assert_eq!(last(b"/X1/ABC5\r\n1-0:1.8.1(1)\r\n"), None);
    assert_eq!(last(b"/X1/ABC5\r\n\r"), None);
    assert_eq!(last(b"/X1/ABC5\x01\r\n\r\n"), None);
    assert_eq!(last(b"/X1/AB5\r\n\r\n"), None);
    // What cannot be told apart without a CRC: an ident whose own '/'
    // were followed by three letters and a digit.
    assert_eq!(last(b"/ABC5/DEF5x\r\n\r\n"), Some(5));
}

#[test]
fn a_frame_that_keeps_dropping_its_head_holds_at_most_two_frames() {
    let mut framer = Framer::new(Parity::None);
    let mut truncated = 0;
    for round in 1..=64 {
        framer.push(&[b'/'; MAX_FRAME / 2], |e| {
            truncated += usize::from(matches!(
                e,
                Event::Rejected {
                    reason: Reject::Truncated,
                    frame: None
                }
            ))
        });
        assert_eq!(framer.buffered(), MAX_FRAME.min(round * MAX_FRAME / 2));
        assert!(framer.buf.len() < 2 * MAX_FRAME, "{}", framer.buf.len());
    }
    // Every byte past the first frame's worth dropped one '/'.
    assert_eq!(truncated, 64 * MAX_FRAME / 2 - MAX_FRAME);
}

/// A telegram as a meter sends it (CRLF), and the same with every CR
/// stripped, as software in front of a `tcp://` source may deliver it.
fn meter_and_stripped() -> (Vec<u8>, Vec<u8>) {
    let body = "/ISK5\\2M550T-1012\r\n\r\n1-0:1.8.1(002130.115*kWh)\r\n0-0:96.13.0()\r\n!";
    let sent = format!("{body}{:04X}\r\n", crc16(body.as_bytes())).into_bytes();
    let stripped = String::from_utf8(sent.clone())
        .unwrap()
        .replace("\r\n", "\n");
    (sent, stripped.into_bytes())
}

/// Telegrams (bytes, CRs restored) and rejects, `input` fed in pieces.
fn run_restoring(input: &[u8], piece: usize) -> (Vec<(Vec<u8>, bool)>, Vec<Reject>) {
    let mut framer = Framer::new(Parity::None);
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    for chunk in input.chunks(piece) {
        framer.push(chunk, |event| match event {
            Event::Telegram(t) => good.push((t.bytes.to_vec(), t.cr_restored)),
            Event::Rejected { reason, .. } => bad.push(reason),
        });
    }
    (good, bad)
}

#[test]
fn stripped_crs_are_restored_when_the_crc_passes_only_with_them() {
    let (sent, stripped) = meter_and_stripped();
    let input = [&stripped[..], &sent, &stripped].concat();
    for piece in [1, 5, 64, input.len()] {
        let (good, bad) = run_restoring(&input, piece);
        let want = vec![
            (sent.clone(), true),
            (sent.clone(), false),
            (sent.clone(), true),
        ];
        assert_eq!(good, want, "pieces of {piece}");
        assert!(bad.is_empty(), "{bad:?}");
    }
    // Behind a cut-off head, too.
    let glued = [&stripped[..40], &stripped].concat();
    assert_eq!(
        run_restoring(&glued, 7),
        (vec![(sent.clone(), true)], vec![Reject::Truncated])
    );
}

#[test]
fn a_crc_over_the_bare_lfs_is_valid_as_it_is() {
    let body = "/ISK5\\2M550T-1012\n\n1-0:1.8.1(002130.115*kWh)\n!";
    let lf_only = format!("{body}{:04X}\n", crc16(body.as_bytes())).into_bytes();
    assert_eq!(run_restoring(&lf_only, 3), (vec![(lf_only, false)], vec![]));
}

#[test]
fn stripped_and_damaged_is_still_a_crc_reject() {
    let (_, mut stripped) = meter_and_stripped();
    stripped[30] ^= 0x01;
    assert_eq!(run_restoring(&stripped, 9), (vec![], vec![Reject::Crc]));
    // Without a CRC nothing can tell a lost CR from damage.
    let (good, bad) = run(Parity::None, b"/X\n\n1-0:1.8.1(1)\n!\n");
    assert!(good.is_empty());
    assert_eq!(bad, vec![Reject::Trailer]);
}
