//! Test fixtures: p1mux-testkit (a pty as the meter, the UART emulator,
//! TCP clients, /proc figures), plus the p1mux binary cargo built for these
//! tests, which only a test target can name.
#![allow(dead_code)] // each test binary uses a different part of this

pub mod external;

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::process::Command;

pub use p1mux_testkit::*;

/// The p1mux binary under test.
pub fn p1mux_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_p1mux"))
}

/// The p1mux binary, running; killed when dropped. Everything else it can
/// do is [`Daemon`]'s.
pub struct P1mux(pub Daemon);

impl P1mux {
    /// Starts `p1mux serve --listen 127.0.0.1:0 ARGS`.
    pub fn serve(args: &[&str]) -> P1mux {
        let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        P1mux::spawn(&all, |_| {})
    }

    /// `p1mux serve ARGS` on a fresh pty as the meter, once it has opened
    /// the port (bytes written from then on are read raw); and its port.
    pub fn on_pty(args: &[&str]) -> (P1mux, Pty, u16) {
        let pty = Pty::open();
        let device = pty.slave_path.to_str().unwrap().to_string();
        let mut all = vec!["--device", device.as_str()];
        all.extend_from_slice(args);
        let p1mux = P1mux::serve(&all);
        let port = p1mux.port();
        p1mux.wait_for(&format!("opened {device}"));
        (p1mux, pty, port)
    }

    /// Starts `p1mux ARGS` with RUST_LOG=debug, `adjust`ed.
    pub fn spawn(args: &[&str], adjust: impl FnOnce(&mut Command)) -> P1mux {
        P1mux(Daemon::spawn(p1mux_bin(), args, adjust))
    }
}

impl Deref for P1mux {
    type Target = Daemon;

    fn deref(&self) -> &Daemon {
        &self.0
    }
}

impl DerefMut for P1mux {
    fn deref_mut(&mut self) -> &mut Daemon {
        &mut self.0
    }
}
