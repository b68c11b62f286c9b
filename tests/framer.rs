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
