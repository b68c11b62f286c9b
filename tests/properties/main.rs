//! Framer properties over generated input (proptest): it never panics,
//! holds at most one frame of memory, recovers every telegram embedded in
//! noise exactly once, and every one behind cut-off heads, never emits what
//! fails its CRC or parity, and gives the same output however the input is
//! split (invariants.rs). And it says exactly what the byte-at-a-time
//! framer it replaced says, on generated (differential.rs) and built
//! (built.rs) input, against tests/reference, which was changed on purpose
//! once, for issue 10's resync after a cut-off head: see its doc.

mod built;
mod differential;
mod invariants;
#[path = "../reference/mod.rs"]
mod reference;

use p1mux::framer::{Event, Framer, MAX_FRAME, Parity, Reject};
use p1mux_testkit::SAMPLES;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// `cases` runs, the failures kept beside the test's own file (e.g.
/// invariants.proptest-regressions). proptest's default would look for a
/// main.rs above that file, find this one, and keep them in
/// tests/proptest-regressions/ instead.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

/// What the framer said, in a comparable form.
#[derive(Debug, PartialEq, Eq, Clone)]
enum Out {
    Valid(Vec<u8>),
    Rejected(Reject, Option<Vec<u8>>),
}

/// Feeds `input` cut at `cuts` (any order, any values), checking the
/// memory bound after every piece.
fn frame(parity: Parity, input: &[u8], cuts: &[usize]) -> Vec<Out> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    let mut framer = Framer::new(parity);
    let mut out = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([input.len()]) {
        framer.push(&input[start..cut], |e| {
            out.push(match e {
                Event::Telegram(t) => Out::Valid(t.bytes.to_vec()),
                Event::Rejected { reason, frame } => {
                    Out::Rejected(reason, frame.map(<[u8]>::to_vec))
                }
            })
        });
        assert!(
            framer.buffered() <= MAX_FRAME,
            "holds {} bytes",
            framer.buffered()
        );
        start = cut;
    }
    out
}

fn valid(out: &[Out]) -> Vec<Vec<u8>> {
    out.iter()
        .filter_map(|o| match o {
            Out::Valid(t) => Some(t.clone()),
            Out::Rejected(..) => None,
        })
        .collect()
}

/// Noise that cannot start a telegram: anything but '/' (0x2F) and its
/// parity-in-bit-7 form (0xAF).
fn noise() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        any::<u8>().prop_filter("no start byte", |b| *b != b'/' && *b != 0xAF),
        0..120,
    )
}

/// A mix of random bytes and pieces of real telegrams: the inputs most
/// likely to confuse a framer.
fn hostile() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        (
            0..SAMPLES.len(),
            any::<prop::sample::Index>(),
            any::<prop::sample::Index>()
        )
            .prop_map(|(s, a, b)| {
                let t = SAMPLES[s];
                let (a, b) = (a.index(t.len()), b.index(t.len()));
                t[a.min(b)..a.max(b)].to_vec()
            }),
        Just(b"\r\n!".to_vec()),
        Just(b"/".to_vec()),
        Just(vec![0xAF]),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}
