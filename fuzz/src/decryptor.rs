//! Splitter, decryptor and the plaintext's framer together, as the gateway
//! runs them with a key: the same telegrams, rejects and news whatever the
//! split. The seeds hold frames under [`KEY`], so that mutations reach the
//! paths past the GCM tag (a damaged frame whose plaintext is checked by
//! its CRC).

use p1mux::encrypted::{Authentication, Decryptor, Key, Piece, Splitter};
use p1mux::framer::{Event, Framer, Parity};

/// The key the seeds were made with (tests/encrypted/frames.rs).
pub const KEY: [u8; 16] = [
    0x0F, 0x1E, 0x2D, 0x3C, 0x4B, 0x5A, 0x69, 0x78, 0x87, 0x96, 0xA5, 0xB4, 0xC3, 0xD2, 0xE1, 0xF0,
];

#[derive(Debug, PartialEq)]
pub struct Out {
    frames: usize,
    rejects: Vec<&'static str>,
    telegrams: Vec<Vec<u8>>,
    plain_rejects: Vec<&'static str>,
    news: Vec<&'static str>,
    text: usize,
}

fn run(pieces: &[&[u8]]) -> Out {
    let mut out = Out {
        frames: 0,
        rejects: Vec::new(),
        telegrams: Vec::new(),
        plain_rejects: Vec::new(),
        news: Vec::new(),
        text: 0,
    };
    let mut splitter = Splitter::new();
    let mut decryptor = Decryptor::new(&Key::from_bytes(KEY), Authentication::Default);
    let mut plain = Framer::new(Parity::None);
    for piece in pieces {
        splitter.push(piece, |p| match p {
            Piece::Text(run) => out.text += run.len(),
            Piece::Frame(frame) => {
                out.frames += 1;
                match decryptor.decrypt(&frame) {
                    Ok(plaintext) => plain.push(plaintext, |e| match e {
                        Event::Telegram(t) => out.telegrams.push(t.bytes.to_vec()),
                        Event::Rejected { reason, .. } => out.plain_rejects.push(reason.name()),
                    }),
                    Err(reason) => out.rejects.push(reason.name()),
                }
                out.news.extend(decryptor.news().map(|n| n.message()));
            }
            Piece::Rejected(reason) => out.rejects.push(reason.name()),
        });
    }
    out
}

pub fn check(data: &[u8]) {
    super::same_whatever_the_split(data, run);
}
