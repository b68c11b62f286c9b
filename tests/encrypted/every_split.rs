//! The property behind issue 18's lost frames: whatever a stream holds
//! (good frames, cut ones, damaged lengths, another meter, noise), every
//! split of it gives the same frames, rejects, text and telegrams as the
//! stream in one piece, and as byte by byte.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

use crate::frames::*;

/// One part of a generated stream.
#[derive(Clone, Debug)]
enum Part {
    Good,
    /// A good frame cut after this many bytes (of about 130).
    Cut(usize),
    /// A frame whose length byte was made larger by this much.
    Longer(u8),
    /// A frame of another meter.
    Stranger,
    Noise(u32, usize),
}

fn part() -> impl Strategy<Value = Part> {
    prop_oneof![
        4 => Just(Part::Good),
        1 => (1usize..140).prop_map(Part::Cut),
        1 => (1u8..0x70).prop_map(Part::Longer),
        1 => Just(Part::Stranger),
        2 => (any::<u32>(), 0usize..40).prop_map(|(s, n)| Part::Noise(s, n)),
    ]
}

fn stream(parts: &[Part]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let n = i as u32 + 1;
        let good = frame(Form::Long1, n, &short_telegram(n));
        match part {
            Part::Good => out.extend_from_slice(&good),
            Part::Cut(at) => out.extend_from_slice(&good[..(*at).min(good.len())]),
            Part::Longer(by) => {
                let mut f = good;
                f[11] = f[11].saturating_add(*by);
                out.extend_from_slice(&f);
            }
            Part::Stranger => {
                let sealed = seal(&KEY, &nonce(b"KFM\x01\x02\x03\x04\x05", n), &[0x30], b"x");
                out.extend_from_slice(&lay_out(
                    b"KFM\x01\x02\x03\x04\x05",
                    Form::Short,
                    n,
                    &sealed,
                ));
            }
            Part::Noise(seed, len) => out.extend_from_slice(&noise(*seed, *len)),
        }
    }
    out
}

/// What is compared, in a form that prints short.
fn summary(
    out: &Out,
) -> (
    Vec<usize>,
    Vec<p1mux::encrypted::Reject>,
    Vec<u8>,
    usize,
    usize,
) {
    (
        out.frames.iter().map(Vec::len).collect(),
        out.rejects.clone(),
        out.text.clone(),
        out.telegrams.len(),
        out.text_telegrams,
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 200,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_split_gives_the_same_frames(
        parts in prop::collection::vec(part(), 1..12),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let stream = stream(&parts);
        let whole = run(&[&stream], Some(&mut decryptor()));
        let mut at: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
        at.sort_unstable();
        let mut pieces = Vec::new();
        let mut from = 0;
        for &to in &at {
            pieces.push(&stream[from..to]);
            from = to;
        }
        pieces.push(&stream[from..]);
        let split = run(&pieces, Some(&mut decryptor()));
        prop_assert_eq!(summary(&split), summary(&whole), "cut at {:?}", at);
        prop_assert!(split.frames == whole.frames && split.telegrams == whole.telegrams);
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        let one_by_one = run(&bytes, Some(&mut decryptor()));
        prop_assert_eq!(summary(&one_by_one), summary(&whole), "byte by byte");
        prop_assert!(one_by_one.frames == whole.frames);
        // Every good frame comes out, decrypted, whatever else is there.
        let good = parts.iter().filter(|p| matches!(p, Part::Good)).count();
        prop_assert!(whole.telegrams.len() >= good.saturating_sub(parts.len() - good));
    }
}
