//! The text framer: bounded memory, the same output whatever the split,
//! and never a telegram whose CRC fails.

use p1mux::framer::{Event, Framer, MAX_FRAME, Parity, crc16};

fn run(parity: Parity, pieces: &[&[u8]]) -> Vec<(bool, Vec<u8>)> {
    let mut framer = Framer::new(parity);
    let mut out = Vec::new();
    for piece in pieces {
        framer.push(piece, |event| match event {
            Event::Telegram(t) => {
                let bang = t.bytes.iter().rposition(|&b| b == b'!').unwrap();
                let digits = std::str::from_utf8(&t.bytes[bang + 1..])
                    .unwrap()
                    .trim_end_matches(['\r', '\n']);
                if !digits.is_empty() {
                    assert_eq!(
                        u16::from_str_radix(digits, 16),
                        Ok(crc16(&t.bytes[..=bang]))
                    );
                }
                out.push((true, t.bytes.to_vec()));
            }
            Event::Rejected { frame, .. } => out.push((false, frame.unwrap_or_default().to_vec())),
        });
        assert!(framer.buffered() <= MAX_FRAME);
    }
    out
}

pub fn check(data: &[u8]) {
    let parity = match data.first() {
        Some(b) if b & 1 == 1 => Parity::Even,
        _ => Parity::None,
    };
    super::same_whatever_the_split(data, |pieces| run(parity, pieces));
}
