//! End-to-end fan-out benchmark: the real p1mux binary, and ser2net for
//! comparison, each fed by a pseudo-terminal "meter" and read by N TCP
//! clients.
//!
//!     cargo run --release --example fanout-bench
//!     cargo run --release --example fanout-bench -- --help
//!
//! The bench builds p1mux itself (`cargo build --release --bin p1mux`: cargo
//! does not build a package's binaries for `cargo run --example`), installs
//! ser2net with apt-get when it runs as root and ser2net is missing, and
//! prints one table per mode:
//!
//! - (a) a DSMR 5 meter: one ~1 KB telegram per second, delivered at line
//!   rate (115200 baud, 8N1: 11520 bytes/s) in 64-byte chunks, the way a
//!   USB serial adapter hands bytes to the kernel;
//! - (b) back to back: the same telegrams with no pause between them, still
//!   at line rate. A meter cannot send faster than its line, so this is the
//!   busiest a real P1 port gets (about 11 telegrams a second).
//!
//! For every row a fresh server is started on a fresh pty, so that peak RSS
//! (VmHWM) belongs to that row. Latency runs from the moment the bench's
//! write of a telegram's last chunk to the pty master returned to the moment
//! that telegram's last byte reached each client's socket, taken from the
//! kernel's receive timestamp (SO_TIMESTAMPNS), so the bench's own loop over
//! 1000 sockets adds nothing to it. Server CPU is utime+stime of all its
//! threads, read in nanoseconds from /proc/PID/task/*/schedstat (the
//! tick-based /proc/PID/stat is too coarse for 10 telegrams), over the
//! measured telegrams only. The server is pinned to one CPU and the bench to
//! the others, so the bench's wake-ups don't preempt the server mid-fan-out;
//! the "preempt" column counts the server's involuntary context switches:
//! when it is not 0, something else on the machine took the server's CPU, and
//! the latency tail shows it. Each client checks that it got every telegram,
//! byte for byte and in order; any loss is printed loudly.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream as StdTcpStream};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use socket2::{Domain, Protocol, Socket, Type};

/// A real DSMR 5.0 telegram (Sagemcom CX2000, 1045 bytes, valid CRC). Each
/// telegram the bench sends is this one with its own timestamp and CRC.
const SAMPLE: &[u8] = include_bytes!("../tests/data/dsmr50_sagemcom_cx2000_pfl10.txt");
/// The timestamp object; its 13-character value tells telegrams apart.
const STAMP: &[u8] = b"0-0:1.0.0(";
const STAMP_LEN: usize = 13;
/// Telegrams sent before measuring, until every client has received one.
const WARMUPS: usize = 10;
/// How long the clients may receive nothing, after the last telegram, before
/// what they lack counts as lost.
const GRACE: Duration = Duration::from_secs(3);
/// The longest wait for a server that fell behind, after the last telegram.
const GIVE_UP: Duration = Duration::from_secs(120);

const USAGE: &str = "\
fanout-bench: p1mux vs ser2net, end to end, through a pty meter and N TCP clients

usage: cargo run --release --example fanout-bench -- [options]

  --clients LIST     client counts, comma-separated (default 1,10,100,1000)
  --telegrams N      telegrams per row in mode (a), one per second (default 10)
  --burst N          telegrams per row in mode (b), back to back (default 100)
  --modes LIST       a, b or a,b (default a,b)
  --servers LIST     p1mux, ser2net or both (default p1mux,ser2net)
  --baud N           meter line rate (default 115200; 0: no pacing, whole
                     telegrams as fast as the pty takes them)
  --chunk N          bytes per pty write, as a USB adapter delivers (default 64)
  --p1mux PATH       benchmark this p1mux binary instead of building one
  --ser2net PATH     compare with this ser2net binary
  --no-pin           don't pin the server to one CPU and the bench to the others
  --ser2net-opt K=V  add an option to ser2net's connection, e.g. chardelay=false
                     (repeatable; default: ser2net's defaults but max-connections)
  --detail           per telegram, print (to stderr) the fastest, median and
                     slowest client: a slow fan-out ramps from client 0 to N-1,
                     a stalled server or meter delays them all
  -h, --help         this text
";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// One telegram a second.
    Interval,
    /// Telegrams back to back.
    Burst,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    P1mux,
    Ser2net,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::P1mux => "p1mux",
            Kind::Ser2net => "ser2net",
        }
    }
}

struct Opts {
    clients: Vec<usize>,
    interval_telegrams: usize,
    burst_telegrams: usize,
    modes: Vec<Mode>,
    servers: Vec<Kind>,
    baud: u32,
    chunk: usize,
    p1mux: Option<PathBuf>,
    ser2net: Option<PathBuf>,
    pin: bool,
    ser2net_opts: Vec<(String, String)>,
    detail: bool,
}

fn parse_args() -> Result<Opts, String> {
    let mut o = Opts {
        clients: vec![1, 10, 100, 1000],
        interval_telegrams: 10,
        burst_telegrams: 100,
        modes: vec![Mode::Interval, Mode::Burst],
        servers: vec![Kind::P1mux, Kind::Ser2net],
        baud: 115_200,
        chunk: 64,
        p1mux: None,
        ser2net: None,
        pin: true,
        ser2net_opts: Vec::new(),
        detail: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            print!("{USAGE}");
            std::process::exit(0);
        }
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        let number = |v: String| -> Result<usize, String> {
            v.parse().map_err(|_| format!("{arg}: not a number: {v}"))
        };
        match arg.as_str() {
            "--clients" => {
                o.clients = value()?
                    .split(',')
                    .map(|v| number(v.to_string()))
                    .collect::<Result<_, _>>()?;
                if o.clients.contains(&0) {
                    return Err("--clients: each count must be at least 1".into());
                }
            }
            "--telegrams" => o.interval_telegrams = number(value()?)?.max(1),
            "--burst" => o.burst_telegrams = number(value()?)?.max(1),
            "--baud" => o.baud = number(value()?)? as u32,
            "--chunk" => o.chunk = number(value()?)?.max(1),
            "--p1mux" => o.p1mux = Some(PathBuf::from(value()?)),
            "--ser2net" => o.ser2net = Some(PathBuf::from(value()?)),
            "--no-pin" => o.pin = false,
            "--detail" => o.detail = true,
            "--ser2net-opt" => {
                let v = value()?;
                let (k, v) = v
                    .split_once('=')
                    .ok_or(format!("--ser2net-opt: KEY=VALUE, not {v}"))?;
                o.ser2net_opts
                    .push((k.trim().to_string(), v.trim().to_string()));
            }
            "--modes" => {
                o.modes = value()?
                    .split(',')
                    .map(|m| match m {
                        "a" => Ok(Mode::Interval),
                        "b" => Ok(Mode::Burst),
                        _ => Err(format!("--modes: unknown mode {m} (a or b)")),
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--servers" => {
                o.servers = value()?
                    .split(',')
                    .map(|s| match s {
                        "p1mux" => Ok(Kind::P1mux),
                        "ser2net" => Ok(Kind::Ser2net),
                        _ => Err(format!("--servers: unknown server {s}")),
                    })
                    .collect::<Result<_, _>>()?;
            }
            _ => return Err(format!("unknown argument {arg}\n\n{USAGE}")),
        }
    }
    Ok(o)
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let max_clients = opts.clients.iter().copied().max().unwrap_or(1);
    raise_fd_limit(max_clients + 256);
    let pinning = if opts.pin { Pinning::split() } else { None };

    let p1mux = if opts.servers.contains(&Kind::P1mux) {
        match opts.p1mux.clone().map_or_else(build_p1mux, Ok) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("fanout-bench: {e}");
                std::process::exit(1);
            }
        }
    } else {
        None
    };
    let ser2net = if opts.servers.contains(&Kind::Ser2net) {
        opts.ser2net.clone().or_else(find_or_install_ser2net)
    } else {
        None
    };

    let most = opts.interval_telegrams.max(opts.burst_telegrams);
    let telegrams = Telegrams::new(WARMUPS + most);
    print_header(
        &opts,
        p1mux.as_deref(),
        ser2net.as_deref(),
        telegrams.len,
        pinning.as_ref(),
    );

    let mut servers: Vec<(Kind, PathBuf)> = Vec::new();
    if let Some(p) = &p1mux {
        servers.push((Kind::P1mux, p.clone()));
    }
    if let Some(s) = &ser2net {
        servers.push((Kind::Ser2net, s.clone()));
    }
    let mut all: Vec<(Mode, usize, Kind, Row)> = Vec::new();
    for &mode in &opts.modes {
        let count = match mode {
            Mode::Interval => opts.interval_telegrams,
            Mode::Burst => opts.burst_telegrams,
        };
        print_mode_title(mode, count, &opts, telegrams.len);
        for &n in &opts.clients {
            let mut rows = Vec::new();
            for (kind, bin) in &servers {
                let bench = Bench {
                    kind: *kind,
                    bin,
                    mode,
                    clients: n,
                    count,
                    opts: &opts,
                    telegrams: &telegrams,
                    max_clients: max_clients.max(1000) * 2,
                    server_cpu: pinning.as_ref().map(|p| p.server),
                };
                let row = bench.run();
                print_row(n, kind.name(), &row);
                rows.push((*kind, row));
            }
            if let [(Kind::P1mux, a), (Kind::Ser2net, b)] = rows.as_slice() {
                print_ratio(a, b);
            }
            for (kind, row) in rows {
                all.push((mode, n, kind, row));
            }
        }
        println!();
    }
    print_targets(&all, ser2net.is_some());
    print_losses(&all);
}

// ---------------------------------------------------------------------------
// Setup: binaries, limits, machine.

/// Builds p1mux in release mode next to this example and returns its path.
fn build_p1mux() -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("fanout-bench: cargo build --release --bin p1mux");
    let status = Command::new(&cargo)
        .args(["build", "--release", "--bin", "p1mux"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .map_err(|e| format!("running cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build --release --bin p1mux: {status}"));
    }
    // This example lives in <target>/<profile>/examples/; p1mux in
    // <target>/release/.
    let exe = std::env::current_exe().map_err(|e| format!("locating the bench: {e}"))?;
    let target = exe
        .ancestors()
        .nth(3)
        .ok_or("cannot find the target directory")?;
    let bin = target.join("release").join("p1mux");
    if bin.exists() {
        Ok(bin)
    } else {
        Err(format!("{} is missing after the build", bin.display()))
    }
}

fn find_or_install_ser2net() -> Option<PathBuf> {
    let find = || {
        [
            "/usr/sbin/ser2net",
            "/usr/bin/ser2net",
            "/usr/local/sbin/ser2net",
        ]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
    };
    if let Some(p) = find() {
        return Some(p);
    }
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root && Path::new("/usr/bin/apt-get").exists() {
        eprintln!("fanout-bench: ser2net is missing; apt-get install -y ser2net");
        let ok = Command::new("apt-get")
            .args(["install", "-y", "-q", "ser2net"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("fanout-bench: apt-get install ser2net failed");
        }
    }
    let found = find();
    if found.is_none() {
        eprintln!(
            "fanout-bench: ser2net is not installed (and could not be installed): \
             measuring p1mux alone; `sudo apt-get install ser2net` adds the comparison"
        );
    }
    found
}

/// 1000 clients need 1000 descriptors in the bench and 1000 in the server,
/// which inherits this limit.
fn raise_fd_limit(want: usize) {
    // SAFETY: getrlimit/setrlimit on a struct we own.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return;
        }
        let want = want as libc::rlim_t;
        if lim.rlim_cur >= want {
            return;
        }
        if lim.rlim_max < want {
            // Root may raise the hard limit too.
            let raised = libc::rlimit {
                rlim_cur: want,
                rlim_max: want,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return;
            }
        }
        lim.rlim_cur = lim.rlim_max.min(want.max(lim.rlim_cur));
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        let mut now: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut now);
        if now.rlim_cur < want {
            eprintln!(
                "fanout-bench: RLIMIT_NOFILE is {} (hard {}), below the {want} needed: \
                 raise it (ulimit -n) or expect refused clients",
                now.rlim_cur, now.rlim_max
            );
        }
    }
}

/// The server gets one CPU to itself, the bench (meter writer and client
/// loop) the others, so that the bench's wake-ups do not preempt the server
/// in the middle of a fan-out. A 1-CPU machine shares.
struct Pinning {
    server: usize,
    bench: Vec<usize>,
}

impl Pinning {
    fn split() -> Option<Pinning> {
        // SAFETY: sched_getaffinity/setaffinity on this thread with a zeroed
        // cpu_set_t of the right size.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
                return None;
            }
            let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
                .filter(|&c| libc::CPU_ISSET(c, &set))
                .collect();
            let (&server, bench) = cpus.split_first()?;
            if bench.is_empty() {
                return None;
            }
            let mut mine: libc::cpu_set_t = std::mem::zeroed();
            for &c in bench {
                libc::CPU_SET(c, &mut mine);
            }
            // Threads spawned later (meter, log readers) inherit this.
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mine) != 0 {
                return None;
            }
            Some(Pinning {
                server,
                bench: bench.to_vec(),
            })
        }
    }
}

/// Pins every thread of `pid` to `cpu`.
fn pin_process(pid: u32, cpu: usize) {
    // SAFETY: sched_setaffinity with a cpu_set_t we built.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for task in tasks.flatten() {
                if let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) {
                    libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set);
                }
            }
        }
    }
}

fn print_header(
    opts: &Opts,
    p1mux: Option<&Path>,
    ser2net: Option<&Path>,
    tlen: usize,
    pinning: Option<&Pinning>,
) {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            matches!(k.trim(), "model name" | "Model" | "Hardware").then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    // Not available_parallelism: the bench has pinned itself by now.
    // SAFETY: sysconf has no preconditions.
    let cores = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_default();
    println!("fanout-bench: p1mux end to end, pty meter -> server -> N TCP clients on 127.0.0.1");
    println!("machine: {model}, {cores} cores, Linux {kernel}, {os}");
    if let Some(p) = p1mux {
        let version = command_line(p, &["--version"]);
        let rev = Command::new("git")
            .args(["describe", "--always", "--dirty"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        println!("p1mux:   {} ({version}, git {rev})", p.display());
    }
    match ser2net {
        Some(s) => {
            let version = command_line(s, &["-v"]);
            let extra: Vec<String> = opts
                .ser2net_opts
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            let options = if extra.is_empty() {
                "default options but max-connections".to_string()
            } else {
                format!("max-connections, {}", extra.join(", "))
            };
            println!("ser2net: {} ({version}), {options}", s.display());
        }
        None if opts.servers.contains(&Kind::Ser2net) => {
            println!("ser2net: NOT AVAILABLE, p1mux measured alone")
        }
        None => {}
    }
    let line = if opts.baud == 0 {
        "no pacing: each telegram in one write, as fast as the pty takes it".to_string()
    } else {
        format!(
            "{} baud 8N1 ({} bytes/s), {}-byte chunks",
            opts.baud,
            opts.baud / 10,
            opts.chunk
        )
    };
    println!("meter:   real DSMR 5.0 telegram (Sagemcom CX2000), {tlen} bytes, {line}");
    println!(
        "latency: meter's last byte written -> client's last byte received (kernel rx \
         timestamp), p50/p99/max over all clients x telegrams"
    );
    println!(
        "cpu:     server utime+stime (schedstat ns) over the measured telegrams, per telegram and \
         as % of wall time; peak RSS: VmHWM; preempt: the server's involuntary context switches"
    );
    if cfg!(debug_assertions) {
        println!(
            "NOTE:    this bench was built without --release; its client loop may lag \
             (use cargo run --release --example fanout-bench)"
        );
    }
    match pinning {
        Some(p) => println!(
            "pinning: server on CPU {}, bench (meter and clients) on CPUs {:?}",
            p.server, p.bench
        ),
        None => println!("pinning: none"),
    }
    println!();
}

fn command_line(bin: &Path, args: &[&str]) -> String {
    Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map(|o| {
            let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
            s.push_str(&String::from_utf8_lossy(&o.stderr));
            s.lines().next().unwrap_or("").trim().to_string()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Telegrams.

/// The telegrams one row sends: index i carries its own timestamp, so a
/// client's stream tells which telegram arrived, and whether in order.
struct Telegrams {
    all: Vec<Vec<u8>>,
    by_stamp: HashMap<[u8; STAMP_LEN], usize>,
    len: usize,
}

impl Telegrams {
    fn new(count: usize) -> Telegrams {
        assert!(crc_ok(SAMPLE), "the sample telegram's CRC is wrong");
        let at = find(SAMPLE, STAMP).expect("sample has a timestamp") + STAMP.len();
        let mut all = Vec::with_capacity(count);
        let mut by_stamp = HashMap::new();
        for i in 0..count {
            let mut t = SAMPLE.to_vec();
            let stamp = stamp(i);
            t[at..at + STAMP_LEN].copy_from_slice(&stamp);
            set_crc(&mut t);
            debug_assert!(crc_ok(&t));
            by_stamp.insert(stamp, i);
            all.push(t);
        }
        Telegrams {
            all,
            by_stamp,
            len: SAMPLE.len(),
        }
    }

    /// Which telegram `unit` is, if it is one of ours, byte for byte.
    fn identify(&self, unit: &[u8]) -> Option<usize> {
        let at = find(unit, STAMP)? + STAMP.len();
        let stamp: [u8; STAMP_LEN] = unit.get(at..at + STAMP_LEN)?.try_into().ok()?;
        let i = *self.by_stamp.get(&stamp)?;
        (self.all[i] == unit).then_some(i)
    }
}

/// A DSMR timestamp, one second apart per index: 2018-12-02 06:09:10 on.
fn stamp(i: usize) -> [u8; STAMP_LEN] {
    let secs = 6 * 3600 + 9 * 60 + 10 + i;
    let day = 2 + secs / 86_400;
    assert!(day <= 31, "too many telegrams for the timestamp scheme");
    let s = secs % 86_400;
    let text = format!(
        "1812{day:02}{:02}{:02}{:02}W",
        s / 3600,
        s / 60 % 60,
        s % 60
    );
    text.as_bytes().try_into().unwrap()
}

/// CRC-16/ARC, as DSMR uses it: over '/' up to and including '!'.
fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
    }
    crc
}

fn bang(t: &[u8]) -> usize {
    t.iter()
        .rposition(|&b| b == b'!')
        .expect("telegram has a '!' line")
}

fn crc_ok(t: &[u8]) -> bool {
    let i = bang(t);
    let text = format!("{:04X}", crc16(&t[..=i]));
    t[i + 1..].starts_with(text.as_bytes())
}

fn set_crc(t: &mut [u8]) {
    let i = bang(t);
    let text = format!("{:04X}", crc16(&t[..=i]));
    t[i + 1..i + 5].copy_from_slice(text.as_bytes());
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------
// The meter: a pty whose slave the server opens.

struct Pty {
    master: File,
    slave_path: PathBuf,
}

impl Pty {
    fn open() -> io::Result<Pty> {
        let (mut master, mut slave) = (0, 0);
        // SAFETY: openpty writes two descriptors into the ints we pass.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fcntl and termios calls on descriptors we own; the slave is
        // closed here, the server opens it by path.
        unsafe {
            for fd in [master, slave] {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
            // Raw from the start, like a UART: no echo, no CR/LF rewriting.
            let mut t: libc::termios = std::mem::zeroed();
            libc::tcgetattr(master, &mut t);
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(master, libc::TCSANOW, &t);
        }
        let slave_path = std::fs::read_link(format!("/proc/self/fd/{slave}"));
        // SAFETY: see above.
        unsafe { libc::close(slave) };
        Ok(Pty {
            // SAFETY: openpty gave us this descriptor and nothing else owns it.
            master: unsafe { File::from_raw_fd(master) },
            slave_path: slave_path?,
        })
    }
}

/// The wall clock in ns: the kernel's socket receive timestamps use it too.
fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// How the meter's bytes reach the pty.
#[derive(Clone, Copy)]
struct Line {
    baud: u32,
    chunk: usize,
}

impl Line {
    /// When byte `n` of a telegram begun at `start` has crossed the wire.
    fn at(self, start: Instant, n: usize) -> Instant {
        start + self.duration(n)
    }

    fn duration(self, bytes: usize) -> Duration {
        if self.baud == 0 {
            Duration::ZERO
        } else {
            Duration::from_nanos(bytes as u64 * 10 * 1_000_000_000 / u64::from(self.baud))
        }
    }

    /// Writes `t` as the adapter would deliver it, begun on the wire at
    /// `start`; returns the wall clock right after the last chunk went in.
    fn send(self, master: &mut File, t: &[u8], start: Instant) -> io::Result<i64> {
        if self.baud == 0 {
            master.write_all(t)?;
            return Ok(now_ns());
        }
        let mut sent = 0;
        while sent < t.len() {
            let end = (sent + self.chunk).min(t.len());
            sleep_until(self.at(start, end));
            master.write_all(&t[sent..end])?;
            sent = end;
        }
        Ok(now_ns())
    }
}

fn sleep_until(at: Instant) {
    let now = Instant::now();
    if at > now {
        thread::sleep(at - now);
    }
}

// ---------------------------------------------------------------------------
// The servers.

struct Server {
    kind: Kind,
    child: Child,
    port: u16,
    /// The last lines it logged, for error messages.
    log: Arc<Mutex<VecDeque<String>>>,
    _dir: Option<TempDir>,
}

impl Server {
    fn start(
        kind: Kind,
        bin: &Path,
        device: &Path,
        max_clients: usize,
        extra: &[(String, String)],
    ) -> Result<Server, String> {
        let mut dir = None;
        let mut cmd = Command::new(bin);
        let mut port = 0;
        match kind {
            Kind::P1mux => {
                cmd.arg("serve")
                    .arg("--device")
                    .arg(device)
                    .args(["--baud", "115200", "--framing", "8n1"])
                    .args(["--listen", "127.0.0.1:0", "--no-replay"])
                    .args(["--max-clients", &max_clients.to_string()])
                    .env_remove("RUST_LOG");
            }
            Kind::Ser2net => {
                port = free_port().map_err(|e| format!("picking a port: {e}"))?;
                let d = TempDir::new("ser2net")?;
                let config = d.0.join("ser2net.yaml");
                let mut yaml = format!(
                    "%YAML 1.1\n---\nconnection: &p1\n  accepter: tcp,127.0.0.1,{port}\n  \
                     connector: serialdev,{},115200n81,local\n  options:\n    \
                     max-connections: {max_clients}\n    kickolduser: false\n",
                    device.display()
                );
                for (k, v) in extra {
                    let _ = writeln!(yaml, "    {k}: {v}");
                }
                std::fs::write(&config, yaml).map_err(|e| format!("writing config: {e}"))?;
                // -d: foreground, logs to stdout; -u: no UUCP lock files.
                cmd.args(["-d", "-u", "-c"]).arg(&config);
                dir = Some(d);
            }
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // A bench killed mid-run must not leave a server holding a pty
        // path that the next pty (a test's, say) may get.
        // SAFETY: prctl is async-signal-safe; nothing else runs in the hook.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("starting {}: {e}", bin.display()))?;
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, rx) = channel();
        let outputs: [Box<dyn Read + Send>; 2] = [
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for out in outputs {
            let (tx, log) = (tx.clone(), log.clone());
            // The server must never block on a full log pipe.
            thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    let mut log = log.lock().unwrap();
                    if log.len() == 40 {
                        log.pop_front();
                    }
                    log.push_back(line.clone());
                    drop(log);
                    let _ = tx.send(line);
                }
            });
        }
        let mut server = Server {
            kind,
            child,
            port,
            log,
            _dir: dir,
        };
        if kind == Kind::P1mux {
            server.port = server.wait_listening(&rx)?;
        }
        Ok(server)
    }

    /// p1mux logs `listening on 127.0.0.1:PORT` once bound.
    fn wait_listening(&mut self, rx: &Receiver<String>) -> Result<u16, String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            if let Some(rest) = line.split("listening on ").nth(1)
                && let Some(port) = rest.rsplit(':').next().and_then(|p| p.trim().parse().ok())
            {
                return Ok(port);
            }
        }
        Err(format!(
            "p1mux never said where it listens:\n{}",
            self.log_text()
        ))
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_text(&self) -> String {
        let log = self.log.lock().unwrap();
        log.iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// CPU time of all its threads, in ns.
    fn cpu_ns(&self) -> u64 {
        let tasks = format!("/proc/{}/task", self.pid());
        let mut total = 0;
        let mut any = false;
        if let Ok(dir) = std::fs::read_dir(&tasks) {
            for task in dir.flatten() {
                let path = task.path().join("schedstat");
                if let Some(ns) = std::fs::read_to_string(path)
                    .ok()
                    .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
                {
                    total += ns;
                    any = true;
                }
            }
        }
        if any {
            return total;
        }
        // No schedstat: utime + stime in clock ticks.
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or(vec![], |(_, r)| r.split_whitespace().collect());
        let ticks: u64 = [11, 12]
            .iter()
            .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
            .sum();
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        ticks * 1_000_000_000 / hz
    }

    /// Involuntary context switches of all its threads.
    fn preempted(&self) -> u64 {
        let mut total = 0;
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.pid())) {
            for task in tasks.flatten() {
                total += std::fs::read_to_string(task.path().join("status"))
                    .ok()
                    .and_then(|s| {
                        s.lines()
                            .find_map(|l| l.strip_prefix("nonvoluntary_ctxt_switches:"))
                            .and_then(|v| v.trim().parse::<u64>().ok())
                    })
                    .unwrap_or(0);
            }
        }
        total
    }

    /// Peak resident memory in KiB.
    fn hwm_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0)
    }

    fn stop(&mut self) {
        // SAFETY: kill on our own child's pid.
        unsafe { libc::kill(self.pid() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!(
                "{} exited ({status}):\n{}",
                self.kind.name(),
                self.log_text()
            )),
            _ => None,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time of the calling thread, in ns.
fn thread_cpu_ns() -> u64 {
    // SAFETY: clock_gettime into a timespec we own.
    unsafe {
        let mut t: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t);
        t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
    }
}

fn free_port() -> io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Result<TempDir, String> {
        let dir = std::env::temp_dir().join(format!("fanout-bench-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------
// The clients.

struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Received some warm-up telegram: the server has this client.
    warm: bool,
    closed: bool,
    /// Next measured index expected (relative to the first measured one).
    next: usize,
    /// Per measured telegram: kernel receive time of its last byte, or 0.
    arrived: Vec<i64>,
    /// Bytes between telegrams or inside broken ones, while measuring.
    junk: usize,
    /// Whole units that were no telegram of ours (torn, altered).
    corrupt: usize,
    /// Telegrams that came again or out of order.
    disorder: usize,
}

impl Client {
    /// Connects, pacing itself to the server's accept rate: ser2net listens
    /// with a backlog of 5, and a SYN that finds the accept queue full is
    /// dropped and retried by the kernel only after a second. A connect that
    /// does not complete at once on loopback met a full queue: it is
    /// abandoned and tried again a moment later.
    fn connect(port: u16, deadline: Instant) -> io::Result<Client> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let std: StdTcpStream = loop {
            let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
            match socket.connect_timeout(&addr.into(), Duration::from_millis(50)) {
                Ok(()) => break socket.into(),
                Err(e) if Instant::now() < deadline => {
                    drop(socket);
                    let pause = if e.kind() == io::ErrorKind::ConnectionRefused {
                        50 // not listening yet
                    } else {
                        2 // accept queue full
                    };
                    thread::sleep(Duration::from_millis(pause));
                }
                Err(e) => return Err(e),
            }
        };
        std.set_nonblocking(true)?;
        let on: libc::c_int = 1;
        // SAFETY: setsockopt with a c_int on a socket we own.
        let rc = unsafe {
            libc::setsockopt(
                std.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Client {
            stream: TcpStream::from_std(std),
            buf: Vec::with_capacity(4096),
            warm: false,
            closed: false,
            next: 0,
            arrived: Vec::new(),
            junk: 0,
            corrupt: 0,
            disorder: 0,
        })
    }

    /// Reads until the socket is empty (the poll is edge-triggered).
    fn drain(&mut self, tg: &Telegrams, first: usize, scratch: &mut [u8]) {
        loop {
            match recv_stamped(self.stream.as_raw_fd(), scratch) {
                Ok((0, _)) => {
                    self.closed = true;
                    return;
                }
                Ok((n, ts)) => self.feed(&scratch[..n], ts.unwrap_or_else(now_ns), tg, first),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.closed = true;
                    return;
                }
            }
        }
    }

    /// Takes bytes that reached the socket at `ts`; every telegram they
    /// complete is stamped with it.
    fn feed(&mut self, bytes: &[u8], ts: i64, tg: &Telegrams, first: usize) {
        self.buf.extend_from_slice(bytes);
        let mut start = 0;
        loop {
            let rest = &self.buf[start..];
            if rest.is_empty() {
                break;
            }
            if rest[0] != b'/' {
                // Not a telegram start: a torn tail (ser2net, warm-up) or damage.
                let skip = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
                if !self.arrived.is_empty() {
                    self.junk += skip;
                }
                start += skip;
                continue;
            }
            // A unit ends with the line after "\r\n!".
            let Some(bang) = find(rest, b"\r\n!") else {
                break;
            };
            let Some(eol) = rest[bang + 3..].iter().position(|&b| b == b'\n') else {
                break;
            };
            let end = bang + 3 + eol + 1;
            let unit = &rest[..end];
            match tg.identify(unit) {
                Some(i) if i < first => self.warm = true,
                Some(i) => {
                    let k = i - first;
                    if k < self.next || k >= self.arrived.len() {
                        self.disorder += 1;
                    } else {
                        self.arrived[k] = ts;
                        self.next = k + 1;
                    }
                }
                None => {
                    if !self.arrived.is_empty() {
                        self.corrupt += 1;
                    }
                }
            }
            start += end;
        }
        self.buf.drain(..start);
    }

    fn begin_measuring(&mut self, count: usize) {
        self.next = 0;
        self.arrived = vec![0; count];
        self.junk = 0;
        self.corrupt = 0;
        self.disorder = 0;
    }

    fn complete(&self) -> bool {
        self.closed || self.arrived.iter().all(|&t| t != 0)
    }
}

/// recvmsg with the kernel's receive timestamp (SO_TIMESTAMPNS) of the
/// last segment read.
fn recv_stamped(fd: RawFd, buf: &mut [u8]) -> io::Result<(usize, Option<i64>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut control = [0u64; 16];
    // SAFETY: a zeroed msghdr is valid; every pointer in it points at
    // buffers that outlive the call, with their true lengths.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        let n = libc::recvmsg(fd, &mut msg, 0);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut ts = None;
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
            {
                let t: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                ts = Some(t.tv_sec as i64 * 1_000_000_000 + t.tv_nsec as i64);
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        Ok((n as usize, ts))
    }
}

struct Clients {
    poll: Poll,
    events: Events,
    list: Vec<Client>,
    scratch: Vec<u8>,
}

impl Clients {
    fn connect(n: usize, port: u16) -> Result<Clients, String> {
        let poll = Poll::new().map_err(|e| format!("creating a poll: {e}"))?;
        let mut list = Vec::with_capacity(n);
        let deadline = Instant::now() + Duration::from_secs(10);
        for i in 0..n {
            let mut c = Client::connect(port, deadline)
                .map_err(|e| format!("connecting client {} of {n}: {e}", i + 1))?;
            poll.registry()
                .register(&mut c.stream, Token(i), Interest::READABLE)
                .map_err(|e| format!("registering client {}: {e}", i + 1))?;
            list.push(c);
        }
        Ok(Clients {
            poll,
            events: Events::with_capacity(1024),
            list,
            scratch: vec![0; 64 * 1024],
        })
    }

    /// Handles readiness for up to `wait`.
    fn pump(&mut self, wait: Duration, tg: &Telegrams, first: usize) {
        if let Err(e) = self.poll.poll(&mut self.events, Some(wait))
            && e.kind() != io::ErrorKind::Interrupted
        {
            panic!("poll: {e}");
        }
        for event in self.events.iter() {
            if let Some(c) = self.list.get_mut(event.token().0)
                && !c.closed
            {
                c.drain(tg, first, &mut self.scratch);
            }
        }
    }

    fn all_warm(&self) -> bool {
        self.list.iter().all(|c| c.warm || c.closed)
    }

    /// Measured telegrams received so far, over all clients.
    fn arrived(&self) -> usize {
        self.list.iter().map(|c| c.next).sum()
    }

    fn all_complete(&self) -> bool {
        self.list.iter().all(Client::complete)
    }
}

// ---------------------------------------------------------------------------
// One row: one server, one mode, N clients.

#[derive(Default)]
struct Row {
    /// Latencies in ns, sorted.
    lat: Vec<i64>,
    cpu_ns: u64,
    wall_ns: u64,
    telegrams: usize,
    hwm_kib: u64,
    preempted: u64,
    clients: usize,
    connected: usize,
    expected: usize,
    delivered: usize,
    lost: usize,
    corrupt: usize,
    disorder: usize,
    junk: usize,
    closed: usize,
    /// Why the row could not be measured at all.
    failed: Option<String>,
}

impl Row {
    fn pct(&self, p: f64) -> Option<i64> {
        if self.lat.is_empty() {
            return None;
        }
        let rank = ((p * self.lat.len() as f64).ceil() as usize).clamp(1, self.lat.len());
        Some(self.lat[rank - 1])
    }

    fn cpu_per_telegram_ns(&self) -> f64 {
        self.cpu_ns as f64 / self.telegrams.max(1) as f64
    }

    fn cpu_share(&self) -> f64 {
        self.cpu_ns as f64 / self.wall_ns.max(1) as f64
    }

    fn clean(&self) -> bool {
        self.failed.is_none()
            && self.connected == self.clients
            && self.delivered == self.expected
            && self.corrupt + self.disorder + self.junk + self.closed == 0
    }
}

struct Bench<'a> {
    kind: Kind,
    bin: &'a Path,
    mode: Mode,
    clients: usize,
    count: usize,
    opts: &'a Opts,
    telegrams: &'a Telegrams,
    max_clients: usize,
    server_cpu: Option<usize>,
}

impl Bench<'_> {
    fn run(&self) -> Row {
        match self.try_run() {
            Ok(row) => row,
            Err(e) => Row {
                clients: self.clients,
                failed: Some(e),
                ..Row::default()
            },
        }
    }

    fn trace(&self, since: Instant, what: &str) {
        if self.opts.detail {
            eprintln!(
                "  {} {} clients: {what} after {:.2}s",
                self.kind.name(),
                self.clients,
                since.elapsed().as_secs_f64()
            );
        }
    }

    fn try_run(&self) -> Result<Row, String> {
        let tg = self.telegrams;
        let line = Line {
            baud: self.opts.baud,
            chunk: self.opts.chunk,
        };
        let mut pty = Pty::open().map_err(|e| format!("opening a pty: {e}"))?;
        let mut server = Server::start(
            self.kind,
            self.bin,
            &pty.slave_path,
            self.max_clients,
            &self.opts.ser2net_opts,
        )?;
        if let Some(cpu) = self.server_cpu {
            pin_process(server.pid(), cpu);
        }
        let phase = Instant::now();
        let mut clients = Clients::connect(self.clients, server.port)?;
        self.trace(phase, "connected the clients");

        // Warm up: send telegrams until every client has received one, so
        // the server has them all, and the caches are warm.
        let first = WARMUPS;
        for w in 0..WARMUPS {
            line.send(&mut pty.master, &tg.all[w], Instant::now())
                .map_err(|e| format!("writing to the pty: {e}"))?;
            let until = Instant::now() + Duration::from_secs(1);
            while Instant::now() < until && !clients.all_warm() {
                clients.pump(Duration::from_millis(20), tg, first);
            }
            if let Some(why) = server.exited() {
                return Err(why);
            }
            if clients.all_warm() {
                break;
            }
        }
        // Let anything in flight settle, then start from a clean slate.
        let settle = Instant::now() + Duration::from_millis(300);
        while Instant::now() < settle {
            clients.pump(Duration::from_millis(20), tg, first);
        }
        let connected = clients.list.iter().filter(|c| c.warm && !c.closed).count();
        self.trace(phase, "warmed up");
        for c in &mut clients.list {
            c.begin_measuring(self.count);
        }

        // Measure: a writer thread plays the meter, this thread the clients.
        let written: Arc<Vec<AtomicI64>> =
            Arc::new((0..self.count).map(|_| AtomicI64::new(0)).collect());
        let mut master = pty
            .master
            .try_clone()
            .map_err(|e| format!("dup of the pty: {e}"))?;
        let period = match self.mode {
            Mode::Interval => Duration::from_secs(1),
            Mode::Burst => line.duration(tg.len),
        };
        if let Some(cpu) = self.server_cpu {
            // Threads it started since (ser2net's) are pinned too.
            pin_process(server.pid(), cpu);
        }
        let cpu0 = server.cpu_ns();
        let bench0 = thread_cpu_ns();
        let preempted0 = server.preempted();
        let t0 = Instant::now() + Duration::from_millis(20);
        let writer = {
            let written = written.clone();
            let sends: Vec<Vec<u8>> = tg.all[first..first + self.count].to_vec();
            thread::spawn(move || -> io::Result<()> {
                for (k, t) in sends.iter().enumerate() {
                    // Absolute schedule: a late write does not shift the rest.
                    let start = t0 + period * k as u32;
                    sleep_until(start);
                    let ns = line.send(&mut master, t, start)?;
                    written[k].store(ns, Ordering::Relaxed);
                }
                Ok(())
            })
        };
        // After the last telegram, wait while telegrams still arrive (a
        // server that fell behind is late, not lossy), then GRACE more.
        let mut progress = (0, Instant::now());
        let mut finished = None;
        loop {
            clients.pump(Duration::from_millis(20), tg, first);
            if writer.is_finished() {
                let now = Instant::now();
                let done = *finished.get_or_insert(now);
                let arrived = clients.arrived();
                if arrived != progress.0 {
                    progress = (arrived, now);
                }
                if clients.all_complete()
                    || now >= progress.1.max(done) + GRACE
                    || now >= done + GIVE_UP
                {
                    break;
                }
            }
        }
        writer
            .join()
            .map_err(|_| "the meter thread panicked".to_string())?
            .map_err(|e| format!("writing to the pty: {e}"))?;
        // Mode (a) measures whole meter periods, idle time included.
        if self.mode == Mode::Interval {
            let end = t0 + period * self.count as u32;
            while Instant::now() < end {
                clients.pump(end.saturating_duration_since(Instant::now()), tg, first);
            }
        }
        let cpu1 = server.cpu_ns();
        let preempted = server.preempted().saturating_sub(preempted0);
        let wall = t0.elapsed();
        let hwm_kib = server.hwm_kib();
        let died = server.exited();
        self.trace(phase, "measured");
        if self.opts.detail {
            eprintln!(
                "  bench client loop used {:.1}% of a CPU while measuring",
                (thread_cpu_ns() - bench0) as f64 / wall.as_nanos() as f64 * 100.0
            );
        }
        server.stop();
        self.trace(phase, "stopped the server");

        let mut row = Row {
            cpu_ns: cpu1.saturating_sub(cpu0),
            wall_ns: wall.as_nanos() as u64,
            telegrams: self.count,
            hwm_kib,
            preempted,
            clients: self.clients,
            connected,
            expected: self.clients * self.count,
            failed: died,
            ..Row::default()
        };
        for c in &clients.list {
            for (k, &ts) in c.arrived.iter().enumerate() {
                if ts != 0 {
                    row.delivered += 1;
                    row.lat.push(ts - written[k].load(Ordering::Relaxed));
                }
            }
            row.corrupt += c.corrupt;
            row.disorder += c.disorder;
            row.junk += c.junk;
            row.closed += usize::from(c.closed);
        }
        row.lost = row.expected - row.delivered;
        row.lat.sort_unstable();
        if self.opts.detail {
            for k in 0..self.count {
                let w = written[k].load(Ordering::Relaxed);
                let mut l: Vec<(i64, usize)> = clients
                    .list
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.arrived[k] != 0)
                    .map(|(i, c)| (c.arrived[k] - w, i))
                    .collect();
                l.sort_unstable();
                if let (Some(lo), Some(hi)) = (l.first(), l.last()) {
                    eprintln!(
                        "  telegram {k:4}: min {:.3}ms (client {}) median {:.3}ms max {:.3}ms (client {})",
                        lo.0 as f64 / 1e6,
                        lo.1,
                        l[l.len() / 2].0 as f64 / 1e6,
                        hi.0 as f64 / 1e6,
                        hi.1
                    );
                }
            }
        }
        Ok(row)
    }
}

// ---------------------------------------------------------------------------
// Output.

fn print_mode_title(mode: Mode, count: usize, opts: &Opts, tlen: usize) {
    let what = match mode {
        Mode::Interval => format!("(a) 1 s meter interval: {count} telegrams per row"),
        Mode::Burst if opts.baud == 0 => {
            format!("(b) back to back, unpaced: {count} telegrams per row")
        }
        Mode::Burst => {
            let per_s = f64::from(opts.baud) / 10.0 / tlen as f64;
            format!(
                "(b) back to back at line rate: {count} telegrams per row ({per_s:.1} telegrams/s)"
            )
        }
    };
    println!("{what}");
    println!(
        "{:>7}  {:<8} {:>9} {:>9} {:>9}  {:>10} {:>7} {:>9} {:>7}  delivery",
        "clients", "server", "lat p50", "p99", "max", "CPU/tgram", "CPU", "peak RSS", "preempt"
    );
}

fn ms(ns: Option<i64>) -> String {
    ns.map_or("-".into(), |v| format!("{:.3}ms", v as f64 / 1e6))
}

fn cpu(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2}ms", ns / 1e6)
    } else {
        format!("{:.0}µs", ns / 1e3)
    }
}

fn delivery(r: &Row) -> String {
    if let Some(why) = &r.failed {
        let first = why.lines().next().unwrap_or("");
        return format!("!! FAILED: {first}");
    }
    let mut s = String::new();
    if r.clean() {
        let _ = write!(s, "ok {}x{}", r.clients, r.telegrams);
        return s;
    }
    let _ = write!(s, "!! {}/{} delivered", r.delivered, r.expected);
    if r.connected < r.clients {
        let _ = write!(s, ", only {}/{} clients served", r.connected, r.clients);
    }
    for (n, what) in [
        (r.lost, "lost"),
        (r.corrupt, "corrupt"),
        (r.disorder, "out of order"),
        (r.junk, "junk bytes"),
        (r.closed, "clients closed"),
    ] {
        if n > 0 {
            let _ = write!(s, ", {n} {what}");
        }
    }
    s
}

fn print_row(n: usize, server: &str, r: &Row) {
    if r.failed.is_some() && r.telegrams == 0 {
        println!("{n:>7}  {server:<8} {}", delivery(r));
        return;
    }
    println!(
        "{n:>7}  {server:<8} {:>9} {:>9} {:>9}  {:>10} {:>6.3}% {:>5.1} MiB {:>7}  {}",
        ms(r.pct(0.50)),
        ms(r.pct(0.99)),
        ms(r.lat.last().copied()),
        cpu(r.cpu_per_telegram_ns()),
        r.cpu_share() * 100.0,
        r.hwm_kib as f64 / 1024.0,
        r.preempted,
        delivery(r)
    );
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".into(),
    }
}

fn print_ratio(a: &Row, b: &Row) {
    let f = |r: &Row, p: f64| r.pct(p).map(|v| v as f64);
    println!(
        "{:>7}  {:<8} {:>9} {:>9} {:>9}  {:>10} {:>7} {:>9}",
        "",
        "ratio",
        ratio(f(a, 0.5), f(b, 0.5)),
        ratio(f(a, 0.99), f(b, 0.99)),
        ratio(f(a, 1.0), f(b, 1.0)),
        ratio(Some(a.cpu_per_telegram_ns()), Some(b.cpu_per_telegram_ns())),
        "",
        ratio(Some(a.hwm_kib as f64), Some(b.hwm_kib as f64)),
    );
}

fn print_targets(all: &[(Mode, usize, Kind, Row)], have_ser2net: bool) {
    let get = |mode: Mode, n: usize, kind: Kind| {
        all.iter()
            .find(|(m, c, k, r)| *m == mode && *c == n && *k == kind && r.failed.is_none())
            .map(|(_, _, _, r)| r)
    };
    let mark = |ok: Option<bool>| match ok {
        Some(true) => "✓",
        Some(false) => "✗",
        None => "?",
    };
    println!("targets (p1mux):");
    for mode in [Mode::Interval, Mode::Burst] {
        let label = match mode {
            Mode::Interval => "(a)",
            Mode::Burst => "(b)",
        };
        let Some(p) = get(mode, 100, Kind::P1mux) else {
            continue;
        };
        let s = get(mode, 100, Kind::Ser2net);
        let p99 = p.pct(0.99).unwrap_or(i64::MAX);
        if have_ser2net {
            let cpu = s.map(|s| p.cpu_per_telegram_ns() * 5.0 <= s.cpu_per_telegram_ns());
            println!(
                "  {} {label} 100 clients: CPU per telegram <= 1/5 of ser2net's ({} vs {})",
                mark(cpu),
                cpu_text(Some(p)),
                cpu_text(s)
            );
            let lat = s.and_then(|s| s.pct(0.99)).map(|sp| p99 <= sp);
            println!(
                "  {} {label} 100 clients: p99 latency <= ser2net's ({} vs {})",
                mark(lat),
                ms(p.pct(0.99)),
                ms(s.and_then(|s| s.pct(0.99)))
            );
        }
        println!(
            "  {} {label} 100 clients: p99 latency < 2 ms ({})",
            mark(Some(p99 < 2_000_000)),
            ms(p.pct(0.99))
        );
        println!(
            "  {} {label} 100 clients: peak RSS < 4 MiB ({:.1} MiB)",
            mark(Some(p.hwm_kib < 4096)),
            p.hwm_kib as f64 / 1024.0
        );
    }
    if let Some(p) = get(Mode::Interval, 1000, Kind::P1mux) {
        println!(
            "  {} (a) 1000 clients, 1 s interval: CPU < 1% ({:.3}%)",
            mark(Some(p.cpu_share() < 0.01)),
            p.cpu_share() * 100.0
        );
    }
}

fn cpu_text(r: Option<&Row>) -> String {
    r.map_or("-".into(), |r| cpu(r.cpu_per_telegram_ns()))
}

fn print_losses(all: &[(Mode, usize, Kind, Row)]) {
    let bad: Vec<_> = all.iter().filter(|(_, _, _, r)| !r.clean()).collect();
    if bad.is_empty() {
        println!("delivery: every client got every telegram, complete and in order, in every row");
        return;
    }
    println!();
    println!("!!!!!! DELIVERY PROBLEMS !!!!!!");
    for (mode, n, kind, r) in bad {
        println!("  {mode:?} {n} clients {}: {}", kind.name(), delivery(r));
        if let Some(why) = &r.failed {
            for line in why.lines().skip(1) {
                println!("      {line}");
            }
        }
    }
}
