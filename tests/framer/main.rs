//! The framer against real telegrams: every sample split at every byte
//! offset and wrapped in noise, the raw capture (splits.rs), each way a
//! telegram can be damaged (damage.rs), and every telegram behind a head
//! that was cut off (cut_heads.rs).

mod cut_heads;
mod damage;
mod splits;

use p1mux::framer::{Event, Framer, Parity, Reject};
use p1mux_testkit::with_crc;

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

/// `input` through a fresh framer in two reads, split at `at`.
fn frame_split(parity: Parity, input: &[u8], at: usize) -> Output {
    feed(&mut Framer::new(parity), &[&input[..at], &input[at..]])
}

/// `input` through a fresh framer one byte at a time.
fn frame_bytewise(parity: Parity, input: &[u8]) -> Output {
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    feed(&mut Framer::new(parity), &bytes)
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

/// A Holley meter's telegram body: its ident holds a second '/'.
const HOLLEY: &str = "/HLY5/D545-METER\r\n\r\n1-0:1.8.0(001234.567*kWh)\r\n!";

/// A telegram as long as a Sagemcom T211 sends: over 5 KB.
fn t211() -> Vec<u8> {
    let mut big = "/Ene5\\T211\r\n\r\n".to_string();
    while big.len() < 5000 {
        big.push_str("0-0:96.13.0(48656C6C6F20576F726C64)\r\n");
    }
    big.push('!');
    with_crc(&big)
}
