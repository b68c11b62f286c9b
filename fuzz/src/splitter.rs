//! The encrypted splitter: every frame it gives is exactly one frame, it
//! holds at most one, and what comes out does not depend on the split
//! (issue 18: a burst after a damaged length lost 80 of 100 frames).

use p1mux::encrypted::{Frame, MAX_FRAME, Piece, Splitter};

/// Text (joined), frames and rejects, in order.
#[derive(Debug, PartialEq)]
pub struct Out {
    text: Vec<u8>,
    frames: Vec<Vec<u8>>,
    rejects: Vec<&'static str>,
}

fn run(pieces: &[&[u8]]) -> Out {
    let mut splitter = Splitter::new();
    let mut out = Out {
        text: Vec::new(),
        frames: Vec::new(),
        rejects: Vec::new(),
    };
    for piece in pieces {
        splitter.push(piece, |p| match p {
            Piece::Text(run) => out.text.extend_from_slice(run),
            Piece::Frame(frame) => {
                assert!(Frame::parse(frame.bytes).is_some(), "not one whole frame");
                out.frames.push(frame.bytes.to_vec());
            }
            Piece::Rejected(reason) => out.rejects.push(reason.name()),
        });
        assert!(splitter.buffered() <= MAX_FRAME);
    }
    out
}

pub fn check(data: &[u8]) {
    super::same_whatever_the_split(data, run);
}
