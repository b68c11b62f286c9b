//! See `p1mux_fuzz::mdns` (fuzz/src/mdns.rs) for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| p1mux_fuzz::mdns::check(data));
