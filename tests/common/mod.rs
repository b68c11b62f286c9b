//! Test fixtures: a pty as the meter, the real p1mux binary, TCP clients.
#![allow(dead_code)] // each test binary uses a different part of this

pub mod external;
pub mod uart;

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const SAMPLES: [&[u8]; 7] = [
    include_bytes!("../data/dsmr22_iskra_mt382-1003.txt"),
    include_bytes!("../data/dsmr30_iskra_mt382-1000_spec_textmsg.txt"),
    include_bytes!("../data/dsmr40_iskra_spec_textmsg.txt"),
    include_bytes!("../data/dsmr42_kaifa_ma105.txt"),
    include_bytes!("../data/dsmr42_landisgyr_e350.txt"),
    include_bytes!("../data/dsmr50_iskra_am550_2mbus.txt"),
    include_bytes!("../data/dsmr50_sagemcom_cx2000_pfl10.txt"),
];
pub const CAPTURE: &[u8] = include_bytes!("../data/capture_iskra_am550_566.txt");

/// How long any single wait in a test may take before it fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A pseudo-terminal pair: the test writes meter bytes to the master, p1mux
/// opens the slave path as its serial port.
pub struct Pty {
    pub master: File,
    pub slave_path: PathBuf,
}

impl Pty {
    pub fn open() -> Pty {
        let (mut master, mut slave) = (0, 0);
        // SAFETY: openpty writes two fds into the provided ints.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty: {}", io::Error::last_os_error());
        // The test keeps only the master, and a spawned p1mux must not
        // inherit it, or p1mux would never see the "cable" go away.
        set_cloexec(master);
        // Raw from the start, like a real UART: no echo, no CR/LF rewriting
        // of bytes that arrive before p1mux configures the port.
        // SAFETY: termios calls on an fd we own.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            libc::tcgetattr(master, &mut t);
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(master, libc::TCSANOW, &t);
        }
        let slave_path = std::fs::read_link(format!("/proc/self/fd/{slave}")).expect("slave path");
        // SAFETY: we own both fds; the slave is closed at once.
        unsafe { libc::close(slave) };
        Pty {
            master: unsafe { File::from_raw_fd(master) },
            slave_path,
        }
    }

    pub fn write(&mut self, bytes: &[u8]) {
        self.master
            .write_all(bytes)
            .expect("writing to the pty master");
    }

    /// The termios p1mux put on the port (shared by both sides of a pty).
    pub fn termios(&self) -> libc::termios {
        // SAFETY: tcgetattr fills the struct for a valid fd.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            assert_eq!(libc::tcgetattr(self.master.as_raw_fd(), &mut t), 0);
            t
        }
    }
}

impl Pty {
    /// The speed p1mux set, in baud. serialport sets it through termios2
    /// (BOTHER), so plain cfgetispeed cannot see it.
    pub fn baud(&self) -> u32 {
        // SAFETY: TCGETS2 fills a termios2 for a valid tty fd.
        unsafe {
            let mut t: libc::termios2 = std::mem::zeroed();
            assert_eq!(
                libc::ioctl(self.master.as_raw_fd(), libc::TCGETS2, &mut t),
                0
            );
            t.c_ispeed
        }
    }
}

pub fn set_cloexec(fd: i32) {
    // SAFETY: fcntl with integer arguments on an fd we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
    }
}

/// The p1mux binary, running; killed when dropped.
pub struct P1mux {
    child: Child,
    lines: Receiver<String>,
    /// Everything it logged so far, for failure messages.
    log: Arc<Mutex<Vec<String>>>,
}

impl P1mux {
    /// Starts `p1mux serve ARGS --listen 127.0.0.1:0`.
    pub fn serve(args: &[&str]) -> P1mux {
        let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        P1mux::spawn(&all, |_| {})
    }

    pub fn spawn(args: &[&str], adjust: impl FnOnce(&mut Command)) -> P1mux {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_p1mux"));
        cmd.args(args)
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        adjust(&mut cmd);
        let mut child = cmd.spawn().expect("spawning p1mux");
        let (tx, rx) = channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        // stdout (probe's report) and stderr (logs) feed one line channel.
        let stdout: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
        let stderr: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
        for stream in [stdout, stderr] {
            let (tx, log) = (tx.clone(), log.clone());
            std::thread::spawn(move || {
                let mut reader = io::BufReader::new(stream);
                let mut line = String::new();
                while io::BufRead::read_line(&mut reader, &mut line).unwrap_or(0) > 0 {
                    let l = line.trim_end().to_string();
                    log.lock().unwrap().push(l.clone());
                    let _ = tx.send(l);
                    line.clear();
                }
            });
        }
        P1mux {
            child,
            lines: rx,
            log,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits for a log line containing `needle` (lines before it are skipped).
    pub fn wait_for(&self, needle: &str) -> String {
        self.wait_longer_for(needle, PATIENCE)
    }

    /// [`P1mux::wait_for`], for something that takes `patience` by design.
    pub fn wait_longer_for(&self, needle: &str, patience: Duration) -> String {
        let deadline = Instant::now() + patience;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    panic!(
                        "p1mux never logged {needle:?}; it logged:\n{}",
                        self.log_text()
                    )
                }
            }
        }
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// The port of the first `listening on` line.
    pub fn port(&self) -> u16 {
        let line = self.wait_for("listening on ");
        line.rsplit(':')
            .next()
            .unwrap()
            .trim()
            .parse()
            .expect("port in listening line")
    }

    /// Connects a client and waits until p1mux has registered it, so that
    /// the next telegram is sure to reach it.
    pub fn connect(&self, port: u16) -> TcpStream {
        let stream = connect(port);
        let local = stream.local_addr().unwrap();
        self.wait_for(&format!("client {local} connected"));
        stream
    }

    /// [`P1mux::connect`] from another loopback address: p1mux replays the
    /// last telegram only to a host that never had it.
    pub fn connect_from(&self, port: u16, host: &str) -> TcpStream {
        let stream = connect_from(port, host);
        let local = stream.local_addr().unwrap();
        self.wait_for(&format!("client {local} connected"));
        stream
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill with our own child's pid.
        unsafe { libc::kill(self.pid(), signal) };
    }

    /// Waits for exit; None if it is still running after `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Waits for exit and for every line printed before it; returns the
    /// exit code and the whole output.
    pub fn finish(&mut self) -> (Option<i32>, String) {
        let status = self.wait_exit(PATIENCE).expect("p1mux exits");
        // The output threads end at EOF, which closes the channel.
        while self.lines.recv_timeout(PATIENCE).is_ok() {}
        (status.code(), self.log_text())
    }

    /// Resident memory in KiB, from /proc.
    pub fn vm_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc status")
    }
}

impl Drop for P1mux {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connecting to p1mux");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Connects from `host` (an address of the 127.0.0.0/8 loopback block).
pub fn connect_from(port: u16, host: &str) -> TcpStream {
    let local: std::net::SocketAddr = format!("{host}:0").parse().expect("loopback address");
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&local.into()).expect("binding the client");
    let target: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    socket.connect(&target.into()).expect("connecting to p1mux");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Reads exactly `n` bytes, or fails the test with what did arrive.
pub fn read_exact(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    let mut got = 0;
    while got < n {
        match stream.read(&mut buf[got..]) {
            Ok(0) => panic!("connection closed after {got} of {n} bytes"),
            Ok(k) => got += k,
            Err(e) => panic!("reading: {e} after {got} of {n} bytes"),
        }
    }
    buf
}

/// Asserts that nothing arrives within `quiet`.
pub fn assert_silent(stream: &mut TcpStream, quiet: Duration) {
    stream.set_read_timeout(Some(quiet)).unwrap();
    let mut buf = [0u8; 4096];
    match stream.read(&mut buf) {
        Ok(0) => panic!("connection closed"),
        Ok(n) => panic!(
            "unexpected {n} bytes: {:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Err(e) => assert!(
            matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "{e}"
        ),
    }
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
}

/// Asserts the peer closed the connection (EOF or reset) within PATIENCE.
pub fn assert_closed(stream: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("expected the connection to close, got {e}"),
        }
    }
}

/// Rewrites a path as a symlink to `target`, atomically.
pub fn point_symlink(link: &Path, target: &Path) {
    let tmp = link.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).unwrap();
    std::fs::rename(&tmp, link).unwrap();
}

/// Pulls the cable mid-way (the tty behind `link` vanishes, p1mux notices)
/// and plugs it back in as a new tty behind the same link, which p1mux opens.
pub fn replug(p1mux: &P1mux, link: &Path, pty: Pty) -> Pty {
    let shown = link.display().to_string();
    std::fs::remove_file(link).unwrap();
    drop(pty);
    p1mux.wait_for(&format!("lost {shown}"));
    let pty = Pty::open();
    point_symlink(link, &pty.slave_path);
    p1mux.wait_for(&format!("opened {shown}"));
    pty
}

/// What a UART set to 8N1 delivers for a meter sending 7E1: the even parity
/// bit lands in bit 7.
pub fn with_parity_bit(data: &[u8]) -> Vec<u8> {
    data.iter()
        .map(|&b| if b.count_ones() % 2 == 1 { b | 0x80 } else { b })
        .collect()
}

/// `telegram` with one data byte changed, so its CRC no longer matches.
pub fn corrupt(telegram: &[u8]) -> Vec<u8> {
    let mut bad = telegram.to_vec();
    let pos = bad.len() / 2;
    bad[pos] = if bad[pos] == b'1' { b'2' } else { b'1' };
    bad
}

/// A private temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("p1mux-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Makes `path` unopenable for the spawned p1mux: as root (who opens
/// anything) by running p1mux as nobody, otherwise by removing all modes.
pub fn deny_access(path: &Path) -> impl FnOnce(&mut Command) {
    // SAFETY: geteuid has no preconditions.
    let is_root = unsafe { libc::geteuid() } == 0;
    if !is_root {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    move |cmd: &mut Command| {
        if is_root {
            use std::os::unix::process::CommandExt;
            cmd.uid(65534).gid(65534);
        }
    }
}
