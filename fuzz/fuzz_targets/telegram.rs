//! See `p1mux_fuzz::telegram` (fuzz/src/telegram.rs) for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| p1mux_fuzz::telegram::check(data));
