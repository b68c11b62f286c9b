//! The framer against the byte-at-a-time reference on built input: the
//! whole capture and long damaged streams, and the places where issue 10's
//! resync rules choose.

use p1mux::framer::{MAX_FRAME, Parity};
use p1mux_testkit::{CAPTURE, SAMPLES, telegram_with_a_valid_suffix, with_parity_bit};

use crate::differential::{Said, differential, telegram_of_len};

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
                        cr_restored: false,
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
            cr_restored: false,
        };
        assert_eq!(said.last(), Some(&want), "{len}");
    }
    let two = [b"/0-0:96.1.1(12", &telegram_with_a_valid_suffix()[..]].concat();
    let headers = [
        &SAMPLES[1][..310],
        &SAMPLES[1][..7],
        b"/X/ABC5\r\n\r\n1-0:1(",
        SAMPLES[0],
    ]
    .concat();
    for input in [&two, &headers] {
        for read in [1, 7, input.len()] {
            let cuts: Vec<(usize, bool)> = (read..input.len())
                .step_by(read)
                .map(|c| (c, false))
                .collect();
            differential(Parity::None, input, &cuts);
        }
    }
}

/// Issue 18: the capture with its CRs stripped, whole and with the CRs of
/// every other telegram kept, against the reference: every telegram comes
/// out restored where it lost its CRs, as the meter sent it.
#[test]
fn stripped_crs_are_restored_as_the_byte_at_a_time_framer_restores_them() {
    let mut stripped = Vec::new();
    let mut mixed = Vec::new();
    let mut telegrams = Vec::new();
    for (i, t) in CAPTURE
        .split_inclusive(|&b| b == b'\n')
        .fold(vec![Vec::new()], |mut ts: Vec<Vec<u8>>, line| {
            ts.last_mut().unwrap().extend_from_slice(line);
            if line.starts_with(b"!") {
                ts.push(Vec::new());
            }
            ts
        })
        .into_iter()
        .filter(|t| t.starts_with(b"/"))
        .enumerate()
    {
        let lf = String::from_utf8(t.clone()).unwrap().replace("\r\n", "\n");
        stripped.extend_from_slice(lf.as_bytes());
        mixed.extend_from_slice(if i % 2 == 0 { lf.as_bytes() } else { &t });
        telegrams.push(t);
    }
    assert_eq!(telegrams.len(), 566);
    for (input, restored) in [(&stripped, 566), (&mixed, 283)] {
        for read in [1, 61, 4096] {
            let cuts: Vec<(usize, bool)> = (read..input.len())
                .step_by(read)
                .map(|c| (c, false))
                .collect();
            let said = differential(Parity::None, input, &cuts);
            let want: Vec<Said> = telegrams
                .iter()
                .enumerate()
                .map(|(i, t)| Said::Telegram {
                    bytes: t.clone(),
                    crc: true,
                    parity_in_bit7: false,
                    cr_restored: restored == 566 || i % 2 == 0,
                })
                .collect();
            assert!(said == want, "reads of {read}: {} said", said.len());
        }
    }
}
