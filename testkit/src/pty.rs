//! A pseudo-terminal as the meter's serial port: the test or bench writes
//! meter bytes to the master, p1mux opens the slave by its path.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::OFlags;
use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
pub use rustix::termios::{InputModes, Termios};
use rustix::termios::{OptionalActions, tcgetattr, tcsetattr};

use crate::fs::point_symlink;
use crate::process::Daemon;

/// A pseudo-terminal pair, the meter's end open.
pub struct Pty {
    /// The meter's end. Close-on-exec, so that a spawned p1mux does not
    /// inherit it and sees the "cable" go when the test drops it.
    pub master: File,
    /// What p1mux opens as its serial port (/dev/pts/N).
    pub slave_path: PathBuf,
}

impl Pty {
    /// Opens a pty, or fails the test.
    pub fn open() -> Pty {
        Pty::try_open().expect("opening a pty")
    }

    pub fn try_open() -> io::Result<Pty> {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
        grantpt(&master)?;
        unlockpt(&master)?;
        let name = ptsname(&master, Vec::new())?;
        // Raw from the start, like a real UART: no echo, no CR/LF rewriting
        // of bytes that arrive before p1mux configures the port. Termios
        // calls on the master act on the slave's settings.
        let mut raw = tcgetattr(&master)?;
        raw.make_raw();
        tcsetattr(&master, OptionalActions::Now, &raw)?;
        Ok(Pty {
            master: File::from(master),
            slave_path: std::ffi::OsString::from_vec(name.into_bytes()).into(),
        })
    }

    /// Writes all of `bytes` to the meter's end, or fails the test.
    pub fn write(&mut self, bytes: &[u8]) {
        self.master
            .write_all(bytes)
            .expect("writing to the pty master");
    }

    /// The settings p1mux put on the port (a pty's two ends share them).
    pub fn termios(&self) -> Termios {
        tcgetattr(&self.master).expect("tcgetattr on the pty")
    }

    /// The speed p1mux set, in baud. serialport sets it through termios2
    /// (BOTHER), so plain cfgetispeed cannot see it; rustix reads termios2.
    pub fn baud(&self) -> u32 {
        self.termios().input_speed()
    }

    /// Makes reads from the master return WouldBlock instead of waiting.
    pub fn set_nonblocking(&self) {
        let flags = rustix::fs::fcntl_getfl(&self.master).expect("F_GETFL");
        rustix::fs::fcntl_setfl(&self.master, flags | OFlags::NONBLOCK).expect("F_SETFL");
    }
}

/// Pulls the cable mid-way (the tty behind `link` vanishes, p1mux notices)
/// and plugs it back in as a new tty behind the same link, which p1mux opens.
pub fn replug(p1mux: &Daemon, link: &Path, pty: Pty) -> Pty {
    let shown = link.display().to_string();
    std::fs::remove_file(link).unwrap();
    drop(pty);
    p1mux.wait_for(&format!("lost {shown}"));
    let pty = Pty::open();
    point_symlink(link, &pty.slave_path);
    p1mux.wait_longer_for(&format!("opened {shown}"), crate::REOPEN_PATIENCE);
    pty
}

/// How a meter's bytes reach the port: at line rate, in the pieces a USB
/// serial adapter hands to the kernel.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    /// The line rate; 0 for no pacing (each write as fast as the pty takes it).
    pub baud: u32,
    /// Bytes per write.
    pub chunk: usize,
}

impl Pace {
    /// A DSMR 5 meter behind a typical FTDI or CH340 cable.
    pub const DSMR5: Pace = Pace {
        baud: 115_200,
        chunk: 64,
    };

    /// How long `bytes` take on the wire: 10 bits each (start, 8 data, stop).
    pub fn wire_time(self, bytes: usize) -> Duration {
        if self.baud == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(bytes as u64 * 10 * 1_000_000_000 / u64::from(self.baud))
    }

    /// Writes `data` whose first bit went on the wire at `start`: each chunk
    /// once its last byte has crossed the wire. Unpaced, all in one write.
    pub fn send(self, out: &mut impl Write, data: &[u8], start: Instant) -> io::Result<()> {
        if self.baud == 0 {
            return out.write_all(data);
        }
        let mut sent = 0;
        for piece in data.chunks(self.chunk.max(1)) {
            sent += piece.len();
            sleep_until(start + self.wire_time(sent));
            out.write_all(piece)?;
        }
        Ok(())
    }
}

/// Sleeps until `at`, if it is still ahead.
pub fn sleep_until(at: Instant) {
    let left = at.saturating_duration_since(Instant::now());
    if !left.is_zero() {
        std::thread::sleep(left);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::termios::{LocalModes, OutputModes};
    use std::io::Read;

    #[test]
    fn bytes_pass_raw_from_master_to_slave() {
        let mut pty = Pty::open();
        let t = pty.termios();
        assert!(
            !t.local_modes
                .intersects(LocalModes::ECHO | LocalModes::ICANON)
        );
        assert!(!t.output_modes.contains(OutputModes::OPOST));
        let mut slave = std::fs::OpenOptions::new()
            .read(true)
            .open(&pty.slave_path)
            .unwrap();
        pty.write(b"/X\r\n\x00\xff!");
        let mut got = [0u8; 7];
        slave.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"/X\r\n\x00\xff!");
    }

    #[test]
    fn baud_reads_back_any_speed() {
        let pty = Pty::open();
        let mut t = pty.termios();
        t.set_speed(9600).unwrap();
        tcsetattr(&pty.master, OptionalActions::Now, &t).unwrap();
        assert_eq!(pty.baud(), 9600);
        t.set_speed(250_000).unwrap(); // no B* constant: only termios2 has it
        tcsetattr(&pty.master, OptionalActions::Now, &t).unwrap();
        assert_eq!(pty.baud(), 250_000);
    }

    #[test]
    fn pace_spreads_a_telegram_over_its_wire_time() {
        let pace = Pace {
            baud: 115_200,
            chunk: 64,
        };
        assert_eq!(pace.wire_time(11_520), Duration::from_secs(1));
        let started = Instant::now();
        let mut out = Vec::new();
        pace.send(&mut out, &[b'x'; 576], started).unwrap();
        assert_eq!(out.len(), 576);
        assert!(started.elapsed() >= pace.wire_time(576));
    }
}
