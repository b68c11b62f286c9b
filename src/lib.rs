//! p1mux: one DSMR P1 smart-meter cable, many TCP clients.
//!
//! The data path is a single-threaded `mio` loop:
//! serial port (or [`network`] source, or demo meter) -> [`framer`] -> [`hub`] -> TCP clients.
//! Only looking up a network source's host name runs on a helper thread,
//! so that a slow DNS server never stalls the clients.

pub mod allow;
pub mod config;
pub mod demo;
pub mod detect;
pub mod encrypted;
pub mod framer;
pub mod gateway;
pub mod hub;
pub mod listen;
pub mod logging;
pub mod network;
pub mod outage;
pub mod probe;
pub mod serial;
pub mod silence;
pub mod stats;
