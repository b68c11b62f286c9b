//! `p1mux serve` end to end: the real binary, a pty as the meter, real TCP
//! clients. What the clients get (delivery.rs), what a newcomer gets
//! (replay.rs), clients that misbehave and the limits on them (clients.rs),
//! signals and a cable that comes and goes (signals.rs), and the errors
//! that stop it (errors.rs).

#[path = "../common/mod.rs"]
mod common;

mod clients;
mod delivery;
mod errors;
mod replay;
mod signals;
mod storm;
