//! p1mux: one DSMR P1 smart-meter cable, every program in the house.
//!
//! The data path is one thread and one `mio` loop:
//!
//! ```text
//! source ──> detector ──> framer ──> pipeline ──> outputs
//! (serial port,  (serial    (validate,   (stats,       (hub: raw TCP clients,
//!  tcp://, demo)  settings)  fix 7E1,     silence,      mqtt: a broker,
//!                            drop noise;  replay rule,  http: page, API,
//!                            encrypted)   values)       events, metrics)
//! ```
//!
//! - [`source`]: where bytes come from, each kind behind [`source::Input`]:
//!   [`source::serial`] (with [`detect`] finding the [`line`] settings),
//!   [`source::network`] (`--device tcp://HOST:PORT`), [`source::demo`].
//!   Only looking up a network source's host name runs on a helper thread,
//!   so that a slow DNS server never stalls the clients.
//! - [`framer`]: pure code, bytes in, whole telegrams or rejects out.
//! - [`encrypted`]: pure code too: the encrypted frames of Luxembourg and
//!   Austrian meters, split from the bytes before the framer, and
//!   decrypted with the meter's key (or passed through whole without one).
//! - [`telegram`]: what a telegram says about itself: its header and
//!   generation, and its values ([`telegram::Reading`], parsed once per
//!   telegram); [`json`] writes them.
//! - [`pipeline`]: splitter -> framers -> [`health`] (stats, silence) ->
//!   outputs; `--forward`, the replay skip, decryption. Pure: it hands what
//!   it saw and what goes out to a [`pipeline::Sink`], and calls nothing.
//! - [`output`]: what every output offers the loop; [`outputs`] is the
//!   list they are built from. [`hub`] is the raw TCP one, [`mqtt`]
//!   publishes to a broker, [`http`] serves the status page, the JSON API,
//!   server-sent events, metrics and HomeWizard's P1 API ([`homewizard`]:
//!   pure code, a reading in, HomeWizard's JSON out); [`mdns`] announces
//!   that API on the local network. Looking up the broker's name runs on a
//!   helper thread too.
//! - [`net`]: TCP for outputs and sources, as a leaf: [`net::server`] is the
//!   one TCP server the hub and HTTP plug into as handlers (listeners,
//!   `--allow`, limits, the connection table, bounded queues, timeouts,
//!   shutdown, a summarised connection storm); [`net::connect`] makes an
//!   outbound connection (the network source's, the broker's) without
//!   blocking the loop.
//! - [`outage`]: the retry schedule and one warning per outage, for the
//!   meter inputs and the broker alike.
//! - [`gateway`]: tokens, the poll loop and signals; it dispatches, and
//!   builds nothing.
//! - [`cli`] parses the command line, [`config`] validates it; [`probe`] is
//!   `p1mux probe`; [`logging`] sets up the log; [`error`] is the start-up
//!   error; [`calendar`] turns days into dates.

#![forbid(unsafe_code)]

pub mod calendar;
pub mod cli;
pub mod config;
pub mod detect;
pub mod encrypted;
pub mod error;
pub mod framer;
pub mod gateway;
pub mod health;
pub mod homewizard;
pub mod http;
pub mod hub;
pub mod json;
pub mod line;
pub mod logging;
pub mod mdns;
pub mod mqtt;
pub mod net;
pub mod outage;
pub mod output;
pub mod outputs;
pub mod pipeline;
pub mod probe;
pub mod source;
pub mod telegram;
