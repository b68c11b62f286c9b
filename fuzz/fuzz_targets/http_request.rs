//! See `p1mux_fuzz::http_request` (fuzz/src/http_request.rs) for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| p1mux_fuzz::http_request::check(data));
