//! What the HTTP output costs the raw clients: 100 raw clients alone, with
//! `--http` but no HTTP client (the cost of parsing each telegram), and
//! beside 10 event-stream (SSE) clients, on a pty meter.
//! Prints p1mux's CPU time per telegram and the raw clients' latency
//! (pty write to the telegram's last byte read), p50 and p99.
//!
//! ```text
//! cargo run --release --example http-fanout [-- TELEGRAMS RATE ROUNDS]
//! ```
//! (default 1000 telegrams at 200 a second, 3 rounds of each setup).
//! On a machine with two cores or more, p1mux runs on CPU 0 and the
//! clients on the others, so that client threads do not queue behind it.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::fd::FromRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use p1mux::framer::crc16;

const SAMPLE: &[u8] = include_bytes!("../tests/data/dsmr50_iskra_am550_2mbus.txt");
const RAW_CLIENTS: usize = 100;
const SSE_CLIENTS: usize = 10;

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let telegrams = *args.first().unwrap_or(&1000) as usize;
    let rate = *args.get(1).unwrap_or(&200);
    let rounds = *args.get(2).unwrap_or(&3);
    let bin = p1mux_binary();
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    if cores > 1 {
        pin(1..cores);
    }
    println!("{telegrams} telegrams at {rate}/s to {RAW_CLIENTS} raw clients, {rounds} rounds");
    println!(
        "{:<28} {:>14} {:>12} {:>12}",
        "setup", "CPU/telegram", "p50", "p99"
    );
    for round in 0..rounds {
        for (http, sse) in [(false, 0), (true, 0), (true, SSE_CLIENTS)] {
            let r = run(&bin, http, sse, telegrams, rate);
            let setup = match (http, sse) {
                (false, _) => "100 raw, no HTTP".to_string(),
                (true, 0) => "100 raw, --http idle".to_string(),
                (true, n) => format!("100 raw + {n} SSE"),
            };
            println!(
                "{:<32} {:>11.1} us {:>9.0} us {:>9.0} us",
                format!("{setup} (round {})", round + 1),
                r.cpu_per_telegram_us,
                r.p50_us,
                r.p99_us
            );
        }
    }
}

struct Figures {
    cpu_per_telegram_us: f64,
    p50_us: f64,
    p99_us: f64,
}

fn run(bin: &PathBuf, http: bool, sse: usize, n: usize, rate: u64) -> Figures {
    let (mut master, slave) = open_pty();
    let mut args = vec![
        "serve".to_string(),
        "--device".into(),
        slave,
        "--baud".into(),
        "115200".into(),
        "--framing".into(),
        "8n1".into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--max-clients".into(),
        "200".into(),
    ];
    if http {
        args.extend(["--http".into(), "127.0.0.1:0".into()]);
    }
    let mut cmd = Command::new(bin);
    if thread::available_parallelism().map_or(1, |n| n.get()) > 1 {
        use std::os::unix::process::CommandExt;
        // SAFETY: only sched_setaffinity, async-signal-safe, runs in the child.
        unsafe {
            cmd.pre_exec(|| {
                pin(0..1);
                Ok(())
            });
        }
    }
    let mut child = cmd
        .args(&args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting p1mux");
    let (raw_port, http_port) = ports(&mut child, http);

    let telegrams: Vec<Vec<u8>> = (0..n).map(numbered).collect();
    let len = telegrams[0].len();
    let sent: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; n]));
    let mut readers = Vec::new();
    for _ in 0..RAW_CLIENTS {
        let mut s = TcpStream::connect(("127.0.0.1", raw_port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        readers.push(thread::spawn(move || {
            let mut done = Vec::with_capacity(n);
            let (mut buf, mut got) = (vec![0u8; 65536], 0usize);
            while done.len() < n {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => got += k,
                }
                while done.len() < n && got >= (done.len() + 1) * len {
                    done.push(Instant::now());
                }
            }
            done
        }));
    }
    let mut streams = Vec::new();
    for _ in 0..sse {
        let mut s = TcpStream::connect(("127.0.0.1", http_port)).unwrap();
        s.write_all(b"GET /events HTTP/1.1\r\nHost: bench\r\n\r\n")
            .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        streams.push(thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            let mut total = 0u64;
            while let Ok(k) = s.read(&mut buf) {
                if k == 0 {
                    break;
                }
                total += k as u64;
            }
            total
        }));
    }
    // Let every client be accepted before the clock starts.
    thread::sleep(Duration::from_millis(500));
    let cpu_before = cpu_seconds(child.id());
    let start = Instant::now();
    for (i, t) in telegrams.iter().enumerate() {
        let due = start + Duration::from_micros(i as u64 * 1_000_000 / rate);
        thread::sleep(due.saturating_duration_since(Instant::now()));
        sent.lock().unwrap()[i] = Some(Instant::now());
        master.write_all(t).unwrap();
    }
    let mut latencies: Vec<f64> = Vec::with_capacity(n * RAW_CLIENTS);
    let sent = sent.lock().unwrap().clone();
    for r in readers {
        let done = r.join().unwrap();
        assert_eq!(done.len(), n, "a raw client missed telegrams");
        for (i, at) in done.iter().enumerate() {
            latencies.push(at.duration_since(sent[i].unwrap()).as_secs_f64() * 1e6);
        }
    }
    let cpu = cpu_seconds(child.id()) - cpu_before;
    let _ = child.kill();
    let _ = child.wait();
    for s in streams {
        assert!(s.join().unwrap() > 0, "an event stream got nothing");
    }
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    Figures {
        cpu_per_telegram_us: cpu / n as f64 * 1e6,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
    }
}

/// The sample with its power set from `i`, the CRC made right: each
/// telegram differs, all are the same length.
fn numbered(i: usize) -> Vec<u8> {
    let text = String::from_utf8_lossy(SAMPLE);
    let bang = text.rfind('!').unwrap();
    let body: String = text[..=bang]
        .split_inclusive('\n')
        .map(|line| match line.starts_with("1-0:1.7.0(") {
            true => format!("1-0:1.7.0({:02}.{:03}*kW)\r\n", i / 1000 % 100, i % 1000),
            false => line.to_string(),
        })
        .collect();
    format!("{body}{:04X}\r\n", crc16(body.as_bytes())).into_bytes()
}

fn ports(child: &mut Child, http: bool) -> (u16, u16) {
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let port = |line: &str| {
        line.rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches('/').parse().ok())
    };
    let (mut raw, mut page) = (None, None);
    while raw.is_none() || (http && page.is_none()) {
        let line = lines.next().expect("p1mux exited").unwrap();
        if line.contains("listening on ") {
            raw = port(&line);
        } else if line.contains("status page: http://") {
            page = port(&line);
        }
    }
    // Keep draining the log so that p1mux never blocks on it.
    thread::spawn(move || for _ in lines {});
    (raw.unwrap(), page.unwrap_or(0))
}

/// Runs the calling thread (and what it spawns or execs) on these CPUs.
fn pin(cpus: std::ops::Range<usize>) {
    // SAFETY: a zeroed cpu_set_t is empty; CPU_SET stays within it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for cpu in cpus {
            libc::CPU_SET(cpu, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    // utime and stime are fields 14 and 15, 12 and 13 after the name.
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

fn open_pty() -> (File, String) {
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
    assert_eq!(rc, 0, "openpty");
    // SAFETY: termios calls on the fd we own; p1mux must not inherit it.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        libc::tcgetattr(master, &mut t);
        libc::cfmakeraw(&mut t);
        libc::tcsetattr(master, libc::TCSANOW, &t);
        libc::fcntl(master, libc::F_SETFD, libc::FD_CLOEXEC);
    }
    let path = std::fs::read_link(format!("/proc/self/fd/{slave}")).unwrap();
    // SAFETY: we own both fds; the slave closes at once, the master is kept.
    unsafe { libc::close(slave) };
    (
        unsafe { File::from_raw_fd(master) },
        path.display().to_string(),
    )
}

fn p1mux_binary() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--bin", "p1mux"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("running cargo");
    assert!(status.success(), "cargo build --release failed");
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/p1mux")
}
