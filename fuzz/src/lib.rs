//! What each fuzz target checks, as plain functions: the libFuzzer targets
//! in `fuzz_targets/` call them, and so does `tests/fuzz_seeds.rs` in the
//! main crate, over the seeds committed in `corpus/` (so that `cargo test`
//! runs every check even where nightly and libFuzzer are not at hand).
//!
//! Every check feeds the input whole, cut in two where its first byte
//! says, and (when short) byte by byte, and asserts the same result: a
//! socket may deliver any split. And nothing may panic.

pub mod decryptor;
pub mod framer;
pub mod homewizard;
pub mod http_request;
pub mod mdns;
pub mod mqtt_codec;
pub mod mqtt_session;
pub mod splitter;
pub mod telegram;

/// What a target checks: it panics when the check fails.
pub type Check = fn(&[u8]);

/// Every target, by the name of its `fuzz_targets/` file and corpus folder.
pub const TARGETS: [(&str, Check); 9] = [
    ("framer", framer::check),
    ("splitter", splitter::check),
    ("decryptor", decryptor::check),
    ("mqtt_codec", mqtt_codec::check),
    ("mqtt_session", mqtt_session::check),
    ("http_request", http_request::check),
    ("telegram", telegram::check),
    ("homewizard", homewizard::check),
    ("mdns", mdns::check),
];

/// Inputs this long or shorter are also fed one byte at a time.
const BYTE_BY_BYTE_UP_TO: usize = 512;

/// The ways of delivering `data[1..]`, `data[0]` choosing where the one cut
/// falls: whole, in two, and byte by byte when short.
pub fn splits(data: &[u8]) -> Vec<Vec<&[u8]>> {
    let Some((&seed, rest)) = data.split_first() else {
        return Vec::new();
    };
    let cut = usize::from(seed) * 31 % (rest.len() + 1);
    let mut ways = vec![vec![rest], vec![&rest[..cut], &rest[cut..]]];
    if rest.len() <= BYTE_BY_BYTE_UP_TO {
        ways.push(rest.chunks(1).collect());
    }
    ways
}

/// Runs `run` on every split of `data` and asserts they agree.
pub fn same_whatever_the_split<T: PartialEq + std::fmt::Debug>(
    data: &[u8],
    run: impl Fn(&[&[u8]]) -> T,
) {
    let mut ways = splits(data).into_iter();
    let Some(whole) = ways.next() else {
        return;
    };
    let expected = run(&whole);
    for pieces in ways {
        let got = run(&pieces);
        assert!(
            got == expected,
            "{} pieces gave\n{got:?}\nwhole gave\n{expected:?}",
            pieces.len()
        );
    }
}
