//! See `p1mux_fuzz::splitter` (fuzz/src/splitter.rs) for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| p1mux_fuzz::splitter::check(data));
