//! The framer against real telegrams: every sample split at every byte
//! offset and wrapped in noise, the raw capture, and each way a telegram can
//! be damaged.

use p1mux::framer::{Event, Framer, MAX_FRAME, Parity, Reject, crc16};

const SAMPLES: [(&str, &[u8]); 7] = [
    ("dsmr22", include_bytes!("data/dsmr22_iskra_mt382-1003.txt")),
    (
        "dsmr30",
        include_bytes!("data/dsmr30_iskra_mt382-1000_spec_textmsg.txt"),
    ),
    (
        "dsmr40",
        include_bytes!("data/dsmr40_iskra_spec_textmsg.txt"),
    ),
    (
        "dsmr42 kaifa",
        include_bytes!("data/dsmr42_kaifa_ma105.txt"),
    ),
    (
        "dsmr42 l+g",
        include_bytes!("data/dsmr42_landisgyr_e350.txt"),
    ),
    (
        "dsmr50 iskra",
        include_bytes!("data/dsmr50_iskra_am550_2mbus.txt"),
    ),
    (
        "dsmr50 sagemcom",
        include_bytes!("data/dsmr50_sagemcom_cx2000_pfl10.txt"),
    ),
];
const CAPTURE: &[u8] = include_bytes!("data/capture_iskra_am550_566.txt");

/// Everything the framer said, in order.
#[derive(Debug, Default)]
struct Output {
    telegrams: Vec<Vec<u8>>,
    rejects: Vec<Reject>,
    /// Complete frames handed out with a reject (for --forward all).
    failed_frames: Vec<Vec<u8>>,
    parity_in_bit7: Vec<bool>,
}

fn feed(framer: &mut Framer, chunks: &[&[u8]]) -> Output {
    let mut out = Output::default();
    for chunk in chunks {
        framer.push(chunk, |event| match event {
            Event::Telegram(t) => {
                out.telegrams.push(t.bytes.to_vec());
                out.parity_in_bit7.push(t.parity_in_bit7);
            }
            Event::Rejected { reason, frame } => {
                out.rejects.push(reason);
                if let Some(frame) = frame {
                    out.failed_frames.push(frame.to_vec());
                }
            }
        });
    }
    out
}

fn frame_all(parity: Parity, input: &[u8]) -> Output {
    feed(&mut Framer::new(parity), &[input])
}

/// Line noise as it is seen before and between telegrams: NULs, 0xFF fill,
/// stray CRLFs, a gateway's trailer line, random bytes. Never a '/', which
/// would legitimately start a frame.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = b"\x00\x00\r\n\xff\xffgateway trailer\r\n!\r\n".to_vec();
    for _ in 0..len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let byte = x as u8;
        out.push(if byte == b'/' { 0xFF } else { byte });
    }
    // Whatever the noise ended with, a telegram starts on a fresh line.
    out.extend_from_slice(b"\r\n");
    out
}

/// What a UART set to 8N1 delivers for a meter sending 7E1: the even parity
/// bit lands in bit 7.
fn with_parity_bit(data: &[u8]) -> Vec<u8> {
    data.iter()
        .map(|&b| if b.count_ones() % 2 == 1 { b | 0x80 } else { b })
        .collect()
}

fn with_crc(body: &str) -> Vec<u8> {
    assert!(body.ends_with('!'));
    format!("{body}{:04X}\r\n", crc16(body.as_bytes())).into_bytes()
}

#[test]
fn samples_are_what_the_readme_says() {
    for (name, sample) in SAMPLES {
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
    for (i, (name, sample)) in SAMPLES.iter().enumerate() {
        let mut stream = noise(i as u64, 40);
        stream.extend_from_slice(sample);
        stream.extend(noise(i as u64 + 100, 25));
        stream.extend_from_slice(sample);
        stream.extend(noise(i as u64 + 200, 60));
        for split in 0..=stream.len() {
            let out = feed(
                &mut Framer::new(Parity::None),
                &[&stream[..split], &stream[split..]],
            );
            assert_eq!(
                out.telegrams,
                vec![sample.to_vec(), sample.to_vec()],
                "{name} split at {split}: rejects {:?}",
                out.rejects
            );
        }
        // And one byte at a time.
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        let out = feed(&mut Framer::new(Parity::None), &bytes);
        assert_eq!(out.telegrams.len(), 2, "{name} byte by byte");
    }
}

#[test]
fn every_sample_as_7e1_with_parity_in_bit7_split_everywhere() {
    for (name, sample) in SAMPLES {
        let wire = with_parity_bit(sample);
        assert_eq!(wire[0], 0xAF, "'/' carries a parity bit");
        for split in 0..=wire.len() {
            let out = feed(
                &mut Framer::new(Parity::Even),
                &[&wire[..split], &wire[split..]],
            );
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
    for (name, sample) in SAMPLES {
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

#[test]
fn corrupted_crc_is_rejected_and_offered_whole_for_forward_all() {
    let sample = SAMPLES[5].1;
    let mut bad = sample.to_vec();
    let pos = bad.windows(4).position(|w| w == b"1.8.").unwrap() + 10;
    bad[pos] = if bad[pos] == b'1' { b'2' } else { b'1' };
    let mut stream = bad.clone();
    stream.extend_from_slice(sample);
    let out = frame_all(Parity::None, &stream);
    assert_eq!(out.telegrams, vec![sample.to_vec()]);
    assert_eq!(out.rejects, vec![Reject::Crc]);
    assert_eq!(out.failed_frames, vec![bad]);
}

#[test]
fn truncated_then_valid_resyncs_on_the_new_header() {
    let sample = SAMPLES[6].1;
    let cut = sample
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w == b"\r\n")
        .nth(5)
        .unwrap()
        .0
        + 2;
    let mut stream = sample[..cut].to_vec();
    stream.extend_from_slice(sample);
    for split in 0..=stream.len() {
        let out = feed(
            &mut Framer::new(Parity::None),
            &[&stream[..split], &stream[split..]],
        );
        assert_eq!(out.telegrams, vec![sample.to_vec()], "split at {split}");
        assert_eq!(out.rejects, vec![Reject::Truncated]);
    }
}

#[test]
fn slash_inside_a_line_is_data_holley_ident() {
    let holley = with_crc("/HLY5/D545-METER\r\n\r\n1-0:1.8.0(001234.567*kWh)\r\n!");
    let warmtelink =
        with_crc("/NWA-WARMTELINK\r\n\r\n0-1:24.2.1(201012123000W)(00012.345*GJ)\r\n!");
    let mut stream = holley.clone();
    stream.extend_from_slice(b"\r\n\x00");
    stream.extend_from_slice(&warmtelink);
    let out = frame_all(Parity::None, &stream);
    assert_eq!(out.telegrams, vec![holley, warmtelink]);
    assert!(out.rejects.is_empty());
}

#[test]
fn oversize_frame_is_dropped_and_framer_resyncs() {
    let mut stream = b"/XXX5 endless\r\n".to_vec();
    while stream.len() <= MAX_FRAME {
        stream.extend_from_slice(b"1-0:99.99.0(0123456789)\r\n");
    }
    let sample = SAMPLES[3].1;
    stream.extend_from_slice(sample);
    let out = frame_all(Parity::None, &stream);
    assert_eq!(out.rejects, vec![Reject::Oversize]);
    assert_eq!(out.telegrams, vec![sample.to_vec()]);
    // A long but legal telegram (Sagemcom T211 sends over 2 KB) passes.
    let mut big = "/Ene5\\T211\r\n\r\n".to_string();
    while big.len() < 5000 {
        big.push_str("0-0:96.13.0(48656C6C6F20576F726C64)\r\n");
    }
    big.push('!');
    let big = with_crc(&big);
    assert_eq!(frame_all(Parity::None, &big).telegrams, vec![big.clone()]);
}

#[test]
fn parity_error_rejects_the_telegram_and_the_next_one_passes() {
    let sample = SAMPLES[0].1; // DSMR 2.2: no CRC, parity is its only check
    let mut wire = with_parity_bit(sample);
    wire[100] ^= 0x01; // one flipped bit: odd popcount now
    wire.extend(with_parity_bit(sample));
    let out = frame_all(Parity::Even, &wire);
    assert_eq!(out.rejects, vec![Reject::Parity]);
    assert_eq!(out.telegrams, vec![sample.to_vec()]);
}

#[test]
fn nul_inside_a_telegram_rejects_it() {
    // A driver that honours 7E1 marks a parity error as NUL.
    let sample = SAMPLES[0].1;
    let mut wire = sample.to_vec();
    wire[120] = 0;
    wire.extend_from_slice(sample);
    for parity in [Parity::Even, Parity::None] {
        let out = frame_all(parity, &wire);
        assert_eq!(out.rejects, vec![Reject::Nul], "{parity:?}");
        assert_eq!(out.telegrams, vec![sample.to_vec()], "{parity:?}");
    }
}

#[test]
fn high_bytes_in_an_8n1_telegram_reject_it() {
    let sample = SAMPLES[1].1;
    let mut wire = sample.to_vec();
    wire[50] |= 0x80;
    wire.extend_from_slice(sample);
    let out = frame_all(Parity::None, &wire);
    assert_eq!(out.rejects, vec![Reject::NonAscii]);
    assert_eq!(out.telegrams, vec![sample.to_vec()]);
}

#[test]
fn crc_may_be_lowercase_or_unpadded() {
    let lower = {
        let body = "/ISK5\\2M550T-1012\r\n\r\n1-0:1.8.1(000123.456*kWh)\r\n!";
        format!("{body}{:04x}\r\n", crc16(body.as_bytes())).into_bytes()
    };
    // Find a body whose CRC has a leading zero, as a heat-meter gateway sends
    // it: `!B9F` for 0x0B9F.
    let unpadded = (0..)
        .map(|n| format!("/NWA-WARMTELINK\r\n\r\n0-1:24.2.1({n:06})\r\n!"))
        .find(|body| crc16(body.as_bytes()) < 0x1000)
        .map(|body| format!("{body}{:X}\r\n", crc16(body.as_bytes())).into_bytes())
        .unwrap();
    let out = frame_all(Parity::None, &[lower.clone(), unpadded.clone()].concat());
    assert_eq!(out.telegrams, vec![lower, unpadded]);
}

#[test]
fn broken_trailers_are_rejected() {
    for bad in [
        &b"/X\r\n\r\n!12345\r\n"[..],
        b"/X\r\n\r\n!12G4\r\n",
        b"/X\r\n\r\n!ABCD\rX",
    ] {
        let out = frame_all(Parity::None, bad);
        assert!(out.telegrams.is_empty(), "{bad:?}");
        assert_eq!(out.rejects, vec![Reject::Trailer], "{bad:?}");
    }
    // A broken trailer followed straight by a header loses only itself.
    let sample = SAMPLES[2].1;
    let mut stream = b"/X\r\n\r\n!12".to_vec();
    stream.extend_from_slice(sample);
    assert_eq!(
        frame_all(Parity::None, &stream).telegrams,
        vec![sample.to_vec()]
    );
}

#[test]
fn binary_and_random_input_never_panics_and_stays_bounded() {
    // Encrypted DLMS (0xDB 0x08 ...) and HDLC (0x7E) frames, then pure noise.
    let mut framer = Framer::new(Parity::Even);
    let mut dlms = vec![0xDB, 0x08, b'S', b'A', b'G', b'5', 0x00, 0x7E];
    dlms.extend((0..=255u8).cycle().take(100_000));
    feed(&mut framer, &[&dlms]);
    let mut x: u32 = 12345;
    let mut buf = vec![0u8; 1 << 20];
    for b in &mut buf {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *b = (x >> 16) as u8;
    }
    feed(&mut framer, &[&buf]);
    // Still frames correctly afterwards.
    let sample = SAMPLES[4].1;
    let out = feed(&mut framer, &[b"\r\n", sample]);
    assert_eq!(out.telegrams, vec![sample.to_vec()]);
}

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
    for (g, (name, good)) in SAMPLES.iter().enumerate() {
        for (o, (other_name, other)) in SAMPLES.iter().enumerate() {
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
                    let out = feed(
                        &mut Framer::new(Parity::None),
                        &[&stream[..split], &stream[split..]],
                    );
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
    for (g, (name, good)) in SAMPLES.iter().enumerate() {
        for (o, (other_name, other)) in SAMPLES.iter().enumerate() {
            if g == o {
                continue;
            }
            let mid_line = other.len() / 2;
            assert!(other[mid_line - 1] != b'\n' && other[mid_line] != b'\n');
            for cut in [5, mid_line] {
                let (stream, _) = behind_cut_head(good, other, cut, (g * 7 + o) as u64);
                for split in 0..=stream.len() {
                    let out = feed(
                        &mut Framer::new(Parity::None),
                        &[&stream[..split], &stream[split..]],
                    );
                    let context = format!("{name} behind {other_name} cut at {cut}, split {split}");
                    assert_recovered(&out, good, Reject::Truncated, &context);
                }
                let bytes: Vec<&[u8]> = stream.chunks(1).collect();
                let out = feed(&mut Framer::new(Parity::None), &bytes);
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
    let holley = with_crc("/HLY5/D545-METER\r\n\r\n1-0:1.8.0(001234.567*kWh)\r\n!");
    for cut in [1, 5, 10, 30] {
        let stream = [&SAMPLES[5].1[..cut], &holley].concat();
        let out = frame_all(Parity::None, &stream);
        assert_recovered(&out, &holley, Reject::Truncated, &format!("cut at {cut}"));
    }
}

#[test]
fn several_cut_heads_in_a_row_count_once() {
    let (a, b, good) = (SAMPLES[3].1, SAMPLES[4].1, SAMPLES[6].1);
    let stream = [&a[..310], &b[..5], &a[..77], good].concat();
    assert_recovered(
        &frame_all(Parity::None, &stream),
        good,
        Reject::Truncated,
        "crc",
    );
    // Without CRC, the last header line begins the telegram.
    let (a, good) = (SAMPLES[1].1, SAMPLES[0].1);
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
    let tail = "/ISK5\\2M550T-1012\r\n\r\n1-0:1.8.1(000123.456*kWh)\r\n!";
    let want = crc16(tail.as_bytes());
    let longer = (0..)
        .map(|n| format!("/A{n:06}{tail}"))
        .find(|t| crc16(t.as_bytes()) == want)
        .unwrap();
    let longer = format!("{longer}{want:04X}\r\n").into_bytes();
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
    let mut big = "/Ene5\\T211\r\n\r\n".to_string();
    while big.len() < 5000 {
        big.push_str("0-0:96.13.0(48656C6C6F20576F726C64)\r\n");
    }
    big.push('!');
    let big = with_crc(&big);
    for cut in [4000, 4001, 4500, 4990] {
        let stream = [&big[..cut], &big].concat();
        for split in [0, cut, MAX_FRAME, MAX_FRAME + 1] {
            let out = feed(
                &mut Framer::new(Parity::None),
                &[&stream[..split], &stream[split..]],
            );
            let context = format!("cut at {cut}, split {split}");
            assert_recovered(&out, &big, Reject::Truncated, &context);
        }
    }
}

#[test]
fn a_bad_byte_rejects_what_it_is_in_and_nothing_after() {
    let (other, good) = (SAMPLES[5].1, SAMPLES[6].1);
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
    let (other, good) = (SAMPLES[1].1, SAMPLES[0].1);
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
    framer.push(SAMPLES[5].1, |_| {});
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
    let sample = SAMPLES[6].1;
    let out = feed(&mut framer, &[b"\r\n", sample]);
    assert_eq!(out.telegrams, vec![sample.to_vec()]);
}
