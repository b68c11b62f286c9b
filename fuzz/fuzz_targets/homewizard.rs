//! See `p1mux_fuzz::homewizard` (fuzz/src/homewizard.rs) for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| p1mux_fuzz::homewizard::check(data));
