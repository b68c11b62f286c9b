//! See `p1mux_fuzz::mqtt_session` (fuzz/src/mqtt_session.rs) for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| p1mux_fuzz::mqtt_session::check(data));
