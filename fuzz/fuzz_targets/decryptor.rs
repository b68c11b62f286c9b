//! See `p1mux_fuzz::decryptor` (fuzz/src/decryptor.rs) for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| p1mux_fuzz::decryptor::check(data));
