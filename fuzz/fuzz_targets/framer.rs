//! See `p1mux_fuzz::framer` (fuzz/src/framer.rs) for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| p1mux_fuzz::framer::check(data));
