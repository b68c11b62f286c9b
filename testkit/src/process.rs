//! A spawned server process (p1mux, or ser2net for comparison): its log
//! lines to wait on, its /proc figures, killed when dropped.

use std::ffi::OsStr;
use std::io::{self, BufRead, BufReader, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Resource, Rlimit, Signal};

use crate::{PATIENCE, net, procfs};

/// A running process whose stdout and stderr are read line by line.
pub struct Daemon {
    child: Child,
    /// Lines from both outputs, in arrival order, for [`Daemon::wait_for`].
    lines: Receiver<String>,
    /// Everything it printed so far, for failure messages.
    log: Arc<Mutex<Vec<String>>>,
    /// The threads reading stdout and stderr: done once the process has
    /// exited and they have read all it printed.
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Daemon {
    /// Starts `bin ARGS` with `RUST_LOG=debug`, after `adjust` has had its
    /// say on the command; fails the test if it cannot start.
    pub fn spawn(bin: &Path, args: &[&str], adjust: impl FnOnce(&mut Command)) -> Daemon {
        let mut cmd = Command::new(bin);
        cmd.args(args).env("RUST_LOG", "debug");
        adjust(&mut cmd);
        Daemon::start(cmd).unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()))
    }

    /// Starts `cmd` with stdin closed and both outputs read into the log.
    pub fn start(mut cmd: Command) -> io::Result<Daemon> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn()?;
        let (tx, lines) = channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stdout: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
        let stderr: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
        // Always reading, so that the process never blocks on a full pipe.
        let readers = [stdout, stderr]
            .into_iter()
            .map(|stream| {
                let (tx, log) = (tx.clone(), log.clone());
                std::thread::spawn(move || {
                    for line in BufReader::new(stream).lines() {
                        let Ok(line) = line else { break };
                        log.lock().unwrap().push(line.clone());
                        let _ = tx.send(line);
                    }
                })
            })
            .collect();
        Ok(Daemon {
            child,
            lines,
            log,
            readers,
        })
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits for a line containing `needle` (lines before it are skipped),
    /// or fails the test with everything the process printed.
    pub fn wait_for(&self, needle: &str) -> String {
        self.wait_longer_for(needle, PATIENCE)
    }

    /// [`Daemon::wait_for`], for something that takes `patience` by design.
    pub fn wait_longer_for(&self, needle: &str, patience: Duration) -> String {
        self.try_wait_for(needle, patience)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Daemon::wait_for`] that returns an error instead of failing.
    pub fn try_wait_for(&self, needle: &str, patience: Duration) -> Result<String, String> {
        let deadline = Instant::now() + patience;
        // Once the process has exited and both outputs are drained, the
        // channel disconnects: no need to wait out the deadline.
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if line.contains(needle) {
                return Ok(line);
            }
        }
        Err(format!(
            "the process never printed {needle:?}; it printed:\n{}",
            self.log_text()
        ))
    }

    /// The next line it prints, whatever it says (a subscriber's messages,
    /// one a line); None when none comes within `wait`, or once it has
    /// exited and everything it printed has been read.
    pub fn next_line(&self, wait: Duration) -> Option<String> {
        self.lines.recv_timeout(wait).ok()
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// The port of p1mux's first `listening on ADDR:PORT` line.
    pub fn port(&self) -> u16 {
        self.try_port().unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_port(&self) -> Result<u16, String> {
        let line = self.try_wait_for("listening on ", PATIENCE)?;
        line.rsplit(':')
            .next()
            .and_then(|p| p.trim().parse().ok())
            .ok_or_else(|| format!("no port in {line:?}"))
    }

    /// Connects a client and waits until p1mux has logged it (`client ADDR
    /// connected`, a debug line), so that the next telegram is sure to reach it.
    pub fn connect(&self, port: u16) -> TcpStream {
        let stream = net::connect(port);
        let local = stream.local_addr().unwrap();
        self.wait_for(&format!("client {local} connected"));
        stream
    }

    /// [`Daemon::connect`] from another loopback address (`127.0.0.2`).
    pub fn connect_from(&self, port: u16, host: &str) -> TcpStream {
        let stream = net::connect_from(port, host);
        let local = stream.local_addr().unwrap();
        self.wait_for(&format!("client {local} connected"));
        stream
    }

    /// Waits for exit and for every line printed before it; returns the
    /// exit code and the whole output.
    pub fn finish(&mut self) -> (Option<i32>, String) {
        let status = self.wait_exit(PATIENCE).expect("the process exits");
        // The output threads end at EOF, which closes the channel.
        while self.lines.recv_timeout(PATIENCE).is_ok() {}
        (status.code(), self.log_text())
    }

    /// Sends `signal` (a libc::SIG* number).
    pub fn signal(&self, signal: i32) {
        let signal = Signal::from_named_raw(signal).expect("a known signal");
        rustix::process::kill_process(self.rustix_pid(), signal).expect("kill");
    }

    fn rustix_pid(&self) -> Pid {
        Pid::from_raw(self.pid()).expect("a child's pid is positive")
    }

    /// Waits for exit; None if it is still running after `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Its last lines may still be in the pipes: the log is whole
                // once the readers have seen both close (a grandchild that
                // kept them open is not waited for past the deadline).
                while !self.readers.iter().all(|r| r.is_finished()) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(1));
                }
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM, then SIGKILL if it is still running after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        if self.exited().is_none() {
            let _ = rustix::process::kill_process(self.rustix_pid(), Signal::TERM);
            if self.wait_exit(grace).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }

    /// SIGKILL, and waits until it is gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Resident memory in KiB.
    pub fn vm_rss_kib(&self) -> u64 {
        procfs::vm_rss_kib(self.pid()).expect("VmRSS of a running process")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A program on PATH, or in /usr/sbin or /usr/local/sbin, where Debian
/// puts daemons (mosquitto, ser2net) that a user's PATH may lack.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Makes the process `cmd` starts die with the thread that starts it, so
/// that a bench killed mid-run leaves no server holding a pty path the next
/// pty may get. Only for processes spawned from a thread that outlives them
/// (the kernel ties this to the spawning thread, not the process).
pub fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the hook runs in the child between fork and exec, where only
    // async-signal-safe calls are allowed: prctl is one, and nothing here
    // allocates or takes a lock.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
            Ok(())
        });
    }
}

/// Gives the process `cmd` starts at most `limit` descriptors (soft and
/// hard RLIMIT_NOFILE), to see it run out.
pub fn limit_fds(cmd: &mut Command, limit: u64) {
    use std::os::unix::process::CommandExt;
    let lim = Rlimit {
        current: Some(limit),
        maximum: Some(limit),
    };
    // SAFETY: the hook runs in the child between fork and exec, where only
    // async-signal-safe calls are allowed: setrlimit is one, and nothing
    // here allocates or takes a lock.
    unsafe {
        cmd.pre_exec(move || Ok(rustix::process::setrlimit(Resource::Nofile, lim)?));
    }
}

/// The first line `bin ARGS` prints (stdout, else stderr), e.g. a version.
pub fn first_line(bin: &Path, args: &[impl AsRef<OsStr>]) -> String {
    Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map(|o| {
            let mut text = String::from_utf8_lossy(&o.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&o.stderr));
            text.lines().next().unwrap_or("").trim().to_string()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Daemon {
        Daemon::spawn(Path::new("/bin/sh"), &["-c", script], |_| {})
    }

    #[test]
    fn waits_for_lines_from_both_outputs_and_knows_the_port() {
        let d = sh("echo starting >&2; echo 'listening on 127.0.0.1:4321'; exec sleep 30");
        assert_eq!(d.port(), 4321);
        // The other output's reader may not have caught up yet.
        let deadline = Instant::now() + PATIENCE;
        while !d.log_text().contains("starting") {
            assert!(Instant::now() < deadline, "{}", d.log_text());
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn next_line_hands_over_every_line_then_none() {
        let d = sh("echo one; echo two");
        assert_eq!(d.next_line(PATIENCE).as_deref(), Some("one"));
        assert_eq!(d.next_line(PATIENCE).as_deref(), Some("two"));
        assert_eq!(d.next_line(PATIENCE), None, "it has exited: no wait");
    }

    #[test]
    fn a_missing_line_is_an_error_with_the_log() {
        let mut d = sh("echo only this");
        assert_eq!(d.wait_exit(PATIENCE).and_then(|s| s.code()), Some(0));
        let err = d.try_wait_for("never", PATIENCE).unwrap_err();
        assert!(err.contains("only this"), "{err}");
    }

    #[test]
    fn limit_fds_and_die_with_parent_reach_the_child() {
        let mut d = Daemon::spawn(Path::new("/bin/sh"), &["-c", "ulimit -n"], |cmd| {
            limit_fds(cmd, 32)
        });
        d.wait_for("32");
        assert!(d.wait_exit(PATIENCE).is_some());
        let mut orphan = std::thread::spawn(|| {
            let mut cmd = Command::new("sleep");
            cmd.arg("30");
            die_with_parent(&mut cmd);
            cmd.spawn().unwrap()
        })
        .join()
        .unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            orphan.wait().unwrap().signal(),
            Some(9),
            "killed with its thread"
        );
    }

    #[test]
    fn stop_terminates_and_drop_kills() {
        let mut d = sh("exec sleep 30");
        let pid = d.pid();
        d.stop(PATIENCE);
        assert!(d.exited().is_some());
        let d = sh("trap '' TERM; echo ready; while :; do sleep 1; done");
        d.wait_for("ready");
        let pid2 = d.pid();
        drop(d);
        for p in [pid, pid2] {
            assert!(!Path::new(&format!("/proc/{p}")).exists(), "{p} reaped");
        }
    }
}
