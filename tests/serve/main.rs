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

use common::{P1mux, Pty};

/// Starts p1mux on a fresh pty and waits until the port is configured, so
/// bytes written from now on are read raw.
fn start(args: &[&str]) -> (P1mux, Pty, u16) {
    let pty = Pty::open();
    let device = pty.slave_path.to_str().unwrap().to_string();
    let mut all = vec!["--device", device.as_str()];
    all.extend_from_slice(args);
    let p1mux = P1mux::serve(&all);
    let port = p1mux.port();
    p1mux.wait_for(&format!("opened {device}"));
    (p1mux, pty, port)
}
