//! See `p1mux_fuzz::mqtt_codec` (fuzz/src/mqtt_codec.rs) for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| p1mux_fuzz::mqtt_codec::check(data));
