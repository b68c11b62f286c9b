//! Fuzzes the framer: whatever the bytes, it must not panic, must hold at
//! most one frame, must give the same output however the input is split,
//! and must never emit a telegram whose CRC fails.
#![no_main]

use libfuzzer_sys::fuzz_target;
use p1mux::framer::{Event, Framer, MAX_FRAME, Parity, crc16};

fn run(parity: Parity, pieces: &[&[u8]]) -> Vec<(bool, Vec<u8>)> {
    let mut framer = Framer::new(parity);
    let mut out = Vec::new();
    for piece in pieces {
        framer.push(piece, |event| match event {
            Event::Telegram(t) => {
                let bang = t.bytes.iter().rposition(|&b| b == b'!').unwrap();
                let digits = std::str::from_utf8(&t.bytes[bang + 1..t.bytes.len() - 2]).unwrap();
                if !digits.is_empty() {
                    assert_eq!(u16::from_str_radix(digits, 16), Ok(crc16(&t.bytes[..=bang])));
                }
                out.push((true, t.bytes.to_vec()));
            }
            Event::Rejected { frame, .. } => out.push((false, frame.unwrap_or_default().to_vec())),
        });
        assert!(framer.buffered() <= MAX_FRAME);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let parity = if first & 1 == 0 { Parity::None } else { Parity::Even };
    let cut = if rest.is_empty() { 0 } else { usize::from(first) * 31 % (rest.len() + 1) };
    let whole = run(parity, &[rest]);
    let split = run(parity, &[&rest[..cut], &rest[cut..]]);
    assert_eq!(whole, split);
});
