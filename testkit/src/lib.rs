//! Fixtures shared by p1mux's tests and its fan-out benchmark.
//!
//! - [`samples`]: real telegrams, parity in bit 7, CRCs;
//! - [`pty`]: a pseudo-terminal as the meter's serial port, paced writes;
//! - [`uart`]: what a real UART would make of the meter's line;
//! - [`process`]: the spawned daemon, its log, killed on drop;
//! - [`mosquitto`]: an MQTT broker on loopback;
//! - [`net`]: TCP clients with timeouts, kernel receive timestamps;
//! - [`load`]: numbered telegrams and a crowd of clients that checks delivery;
//! - [`procfs`]: CPU time, memory, descriptors, preemptions of a process;
//! - [`fs`]: temporary directories, device symlinks, access;
//! - [`host`]: descriptor limits, CPU pinning, the machine's description.
//!
//! It takes the daemon's binary as a parameter rather than depending on
//! p1mux: p1mux has it as a dev-dependency, and an example has no
//! `CARGO_BIN_EXE_p1mux`. tests/common adds that glue.

use std::time::Duration;

pub mod fs;
pub mod host;
pub mod load;
pub mod mosquitto;
pub mod net;
pub mod process;
pub mod procfs;
pub mod pty;
pub mod samples;
pub mod uart;

pub use fs::{TempDir, deny_access, point_symlink, set_cloexec};
pub use net::{assert_closed, assert_silent, connect, connect_from, read_exact};
pub use process::Daemon;
pub use pty::{Pty, replug};
pub use samples::{
    CAPTURE, NAMED_SAMPLES, SAMPLES, corrupt, crc16, telegram_with_a_valid_suffix, with_crc,
    with_parity_bit,
};

/// How long any single wait in a test may take before it fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// How long to wait for p1mux to open a device that (re)appeared: it
/// tries again with backoff up to 10 s, so a test slowed down by a busy
/// machine may find the next attempt that far away, on top of PATIENCE.
pub const REOPEN_PATIENCE: Duration = Duration::from_secs(20);
