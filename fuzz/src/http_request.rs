//! The HTTP request-head parser, read the way a connection reads it
//! (src/http/conn.rs: at most MAX_HEAD bytes held, heads taken off the
//! front as they complete, the first bad one ends it): the same requests
//! and status whatever the split.
//!
//! The parser is private to the http module; it is compiled here from its
//! own file, unchanged, rather than made public for the fuzzer.

#[allow(dead_code)]
#[path = "../../src/http/request.rs"]
mod request;

use request::{MAX_HEAD, Parse};

/// (method, path, keep-alive, body) per request, then the error status.
type Out = (Vec<(String, String, bool, bool)>, Option<u16>);

fn run(pieces: &[&[u8]]) -> Out {
    let mut input: Vec<u8> = Vec::new();
    let mut requests = Vec::new();
    for piece in pieces {
        let mut piece = *piece;
        loop {
            let room = MAX_HEAD - input.len();
            let (now, later) = piece.split_at(room.min(piece.len()));
            input.extend_from_slice(now);
            piece = later;
            loop {
                match request::parse(&input) {
                    Parse::Complete(req, len) => {
                        assert!(len <= input.len() && len <= MAX_HEAD);
                        input.drain(..len);
                        let method = format!("{:?}", req.method);
                        requests.push((method, req.path, req.keep_alive, req.has_body));
                    }
                    Parse::Bad(status) => return (requests, Some(status)),
                    Parse::Partial => break,
                }
            }
            if piece.is_empty() {
                break;
            }
        }
    }
    (requests, None)
}

pub fn check(data: &[u8]) {
    super::same_whatever_the_split(data, run);
}
