//! Encrypted P1 (issue 11): the splitter, the decryptor and the key files,
//! on frames built here the way meters build them (aes-gcm directly, none
//! of p1mux's code), on real frames with their published keys, and read
//! by Home Assistant's dsmr_parser.

mod consumer;
mod every_split;
mod fields;
// Shared by #[path] with the gateway's tests, which use other parts of it.
#[allow(dead_code)]
mod frames;
mod keys;
mod rejects;
mod split;
mod vectors;
