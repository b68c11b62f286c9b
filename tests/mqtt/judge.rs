//! The raw TCP clients as the judge of a hostile broker: while the broker
//! does its worst, every telegram must still reach a raw client, in time,
//! and p1mux must stay small. Records the figures the issue notes want.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::outage::stamped;

/// A raw client that waits longer than this for a telegram calls it lost:
/// five meter periods of a DSMR 5 meter, far beyond any scheduling hiccup.
const LATE: Duration = Duration::from_secs(5);

/// Resident memory p1mux must stay under (debug build, KiB): a few MB is
/// its normal size; the attacks the issue reports took it to hundreds.
pub const RSS_LIMIT_KIB: u64 = 48 * 1024;

pub struct Judge {
    pub p1mux: P1mux,
    pty: Pty,
    client: TcpStream,
    sent: usize,
    pub max_delay: Duration,
    pub peak_rss_kib: u64,
}

impl Judge {
    /// p1mux on a fresh pty (8N1 at 115200, no detection) with `args`,
    /// and a raw client connected.
    pub fn start(args: &[&str]) -> Judge {
        let mut all = vec!["--baud", "115200", "--framing", "8n1"];
        all.extend_from_slice(args);
        let (p1mux, pty, tcp) = P1mux::on_pty(&all);
        let client = p1mux.connect(tcp);
        client.set_read_timeout(Some(LATE)).unwrap();
        Judge {
            p1mux,
            pty,
            client,
            sent: 0,
            max_delay: Duration::ZERO,
            peak_rss_kib: 0,
        }
    }

    /// Sends the next telegram and checks that the raw client gets it, and
    /// that p1mux is still small; fails the test with the figures if not.
    pub fn telegram(&mut self) {
        let t = stamped(self.sent);
        self.sent += 1;
        let at = Instant::now();
        self.pty.write(&t);
        let mut got = vec![0; t.len()];
        let read = std::io::Read::read_exact(&mut self.client, &mut got);
        let delay = at.elapsed();
        self.max_delay = self.max_delay.max(delay);
        self.peak_rss_kib = self.peak_rss_kib.max(self.p1mux.vm_rss_kib());
        assert!(
            read.is_ok() && got == t,
            "telegram {} did not reach the raw client within {LATE:?} ({read:?}); {}",
            self.sent - 1,
            self.figures()
        );
        assert!(
            self.peak_rss_kib < RSS_LIMIT_KIB,
            "p1mux grew too big; {}",
            self.figures()
        );
    }

    /// Waits until p1mux has logged a line with `needle`, whenever it did
    /// (the raw client's connect may have read past it already).
    pub fn logged(&self, needle: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !self.p1mux.log_text().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "p1mux never logged {needle:?}:\n{}",
                self.p1mux.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Telegrams every `gap` for `total`.
    pub fn telegrams_for(&mut self, total: Duration, gap: Duration) {
        let end = Instant::now() + total;
        while Instant::now() < end {
            self.telegram();
            std::thread::sleep(gap);
        }
    }

    /// Lines p1mux logged so far, and those of them at info or above
    /// (what a default log level shows).
    pub fn lines(&self) -> (usize, usize) {
        let log = self.p1mux.log_text();
        let all = log.lines().count();
        let loud = log.lines().filter(|l| !l.contains(" DEBUG ")).count();
        (all, loud)
    }

    pub fn figures(&self) -> String {
        let (all, loud) = self.lines();
        format!(
            "figures: {} telegrams, raw delay max {:.1} ms, RSS peak {} KiB (now {} KiB, \
             high-water {} KiB), log lines {all} ({loud} at info or above)",
            self.sent,
            self.max_delay.as_secs_f64() * 1000.0,
            self.peak_rss_kib,
            procfs::vm_rss_kib(self.p1mux.pid()).unwrap_or(0),
            procfs::vm_hwm_kib(self.p1mux.pid()).unwrap_or(0),
        )
    }

    /// SIGTERM must still end p1mux, cleanly.
    pub fn terminate(mut self) -> String {
        let figures = self.figures();
        self.p1mux.signal(libc::SIGTERM);
        let status = self.p1mux.wait_exit(PATIENCE);
        assert!(
            status.is_some_and(|s| s.success()),
            "SIGTERM did not end p1mux ({status:?}); {figures}"
        );
        figures
    }
}
