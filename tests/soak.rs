//! Soak and fault injection: the real binary, through a pty, for a while,
//! with everything at once: telegrams at the serial line's full rate, noise
//! and corrupted telegrams mixed in, the cable unplugged and replugged every
//! few seconds, well-behaved clients, a client that never reads, one that
//! reads a byte a second, one that floods p1mux with input, and hundreds of
//! clients connecting and disconnecting. Prints figures at the end.
//!
//! A short version runs with `cargo test`. The long one:
//!
//!     SOAK_SECS=600 cargo test --release --test soak -- --ignored --nocapture

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::*;

/// How long the cable stays plugged in each cycle.
const PLUGGED_FOR: Duration = Duration::from_secs(3);

#[test]
fn soak_short() {
    run_soak(Duration::from_secs(10), 50, Duration::from_secs(3));
}

#[test]
#[ignore = "long: SOAK_SECS=600 cargo test --release --test soak -- --ignored --nocapture"]
fn soak_long() {
    let secs = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    run_soak(Duration::from_secs(secs), 200, Duration::from_secs(10));
}

/// A well-behaved client: reads everything, counts it for the meter loop.
struct Reader {
    got: Arc<AtomicUsize>,
    handle: JoinHandle<Vec<u8>>,
}

fn reader(mut stream: TcpStream, stop: Arc<AtomicBool>) -> Reader {
    let got = Arc::new(AtomicUsize::new(0));
    let counter = got.clone();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let handle = thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = vec![0u8; 65536];
        while !stop.load(Ordering::Relaxed) {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    all.extend_from_slice(&buf[..n]);
                    counter.store(all.len(), Ordering::Relaxed);
                }
                Err(_) => {} // timeout: check the stop flag
            }
        }
        all
    });
    Reader { got, handle }
}

/// p1mux's open descriptors by kind, so that a leak says what leaked:
/// "socket", "pipe", "/dev/pts/*" (each replug is a new pty),
/// "anon_inode:[eventpoll]", "/dev/null", ...
fn fd_table(pid: i32) -> BTreeMap<String, usize> {
    let mut table = BTreeMap::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap() {
        // A descriptor closed between the listing and the readlink is gone.
        let Ok(target) = std::fs::read_link(entry.unwrap().path()) else {
            continue;
        };
        let target = target.to_string_lossy();
        let kind = if let Some((kind @ ("socket" | "pipe"), _)) = target.split_once(":[") {
            kind.to_string()
        } else if target.starts_with("/dev/pts/") {
            "/dev/pts/*".to_string()
        } else {
            target.into_owned()
        };
        *table.entry(kind).or_default() += 1;
    }
    table
}

/// Telegrams in a received stream of whole telegrams, and how many fail
/// their CRC (checked here, independently of p1mux).
fn count_telegrams(stream: &[u8]) -> (usize, usize) {
    let (mut total, mut bad, mut pos) = (0, 0, 0);
    while let Some(bang) = find(stream, pos, b"\r\n!").map(|i| i + 2) {
        let Some(end) = find(stream, bang, b"\r\n").map(|i| i + 2) else {
            break;
        };
        let digits = std::str::from_utf8(&stream[bang + 1..end - 2]).unwrap_or("");
        total += 1;
        if u16::from_str_radix(digits, 16).ok() != Some(p1mux_testkit::crc16(&stream[pos..=bang])) {
            bad += 1;
        }
        pos = end;
    }
    (total, bad)
}

fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

fn run_soak(duration: Duration, churners: usize, idle_for: Duration) {
    let dir = TempDir::new("soak");
    let link = dir.0.join("p1");
    let link_str = link.to_str().unwrap().to_string();
    let mut pty = Pty::open();
    point_symlink(&link, &pty.slave_path);
    let max = (churners + 110).to_string();
    let p1mux = P1mux::serve(&["--device", &link_str, "--max-clients", &max]);
    let port = p1mux.port();
    p1mux.wait_longer_for(&format!("opened {link_str}"), REOPEN_PATIENCE);
    let pid = p1mux.pid();
    // p1mux logs "opened" before it has finished starting: the hub, and with
    // it the spare descriptor kept for running out of fds, comes after. A
    // client's "connected" is logged by the hub, and its "disconnected" only
    // once its socket is closed, so from here on the table is p1mux's own.
    drop(p1mux.connect(port));
    p1mux.wait_for("(0 connected)");
    let fds_at_start = fd_table(pid);
    let cpu_at_start = procfs::cpu_seconds(pid);
    let stop = Arc::new(AtomicBool::new(false));

    // The clients that must get everything.
    let readers: Vec<Reader> = (0..3)
        .map(|_| reader(p1mux.connect(port), stop.clone()))
        .collect();
    // One that never reads.
    let never = p1mux.connect(port);
    // One that reads a byte a second.
    let slow = {
        let mut s = p1mux.connect(port);
        let stop = stop.clone();
        thread::spawn(move || {
            let mut byte = [0u8; 1];
            while !stop.load(Ordering::Relaxed) {
                let _ = s.read(&mut byte);
                thread::sleep(Duration::from_secs(1));
            }
        })
    };
    // One that floods p1mux with input.
    let flood = {
        let mut s = p1mux.connect(port);
        let stop = stop.clone();
        thread::spawn(move || {
            let junk = vec![b'/'; 16 * 1024];
            let mut sent = 0u64;
            // About 16 MB/s: over a thousand times what the meter sends,
            // without letting the flooder's own CPU use starve the machine.
            while !stop.load(Ordering::Relaxed) {
                match s.write(&junk) {
                    Ok(n) => sent += n as u64,
                    Err(_) => break,
                }
                thread::sleep(Duration::from_millis(1));
            }
            sent
        })
    };
    // Many that come and go; some read, some do not.
    let churn = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut pool: Vec<TcpStream> = Vec::new();
            let mut connects = 0u64;
            let mut x: u64 = 0x2545_F491_4F6C_DD1D;
            let mut buf = [0u8; 8192];
            while !stop.load(Ordering::Relaxed) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if pool.len() >= churners || (x.is_multiple_of(3) && !pool.is_empty()) {
                    let victim = (x as usize / 3) % pool.len();
                    pool.swap_remove(victim);
                } else if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
                    s.set_nonblocking(true).unwrap();
                    pool.push(s);
                    connects += 1;
                }
                for s in pool.iter_mut().step_by(2) {
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                    }
                }
                thread::sleep(Duration::from_millis(2));
            }
            connects
        })
    };

    // The meter: line rate, noise, corruption, replugs.
    let started = Instant::now();
    let mut expected: Vec<u8> = Vec::new();
    let (mut sent, mut corrupted, mut replugs) = (0usize, 0usize, 0usize);
    let mut peak_rss = p1mux.vm_rss_kib();
    let mut n = 0usize;
    while started.elapsed() < duration {
        let cycle = Instant::now();
        while cycle.elapsed() < PLUGGED_FOR && started.elapsed() < duration {
            let sample = SAMPLES[2 + n % 5];
            n += 1;
            let mut chunk = Vec::new();
            if n.is_multiple_of(7) {
                chunk.extend_from_slice(b"\x00\x00\xff noise \x80\r\n");
            }
            if n.is_multiple_of(5) {
                chunk.extend(corrupt(sample));
                corrupted += 1;
            }
            chunk.extend_from_slice(sample);
            pty.write(&chunk);
            expected.extend_from_slice(sample);
            sent += 1;
            // The time the line takes to carry it.
            thread::sleep(pty::Pace::DSMR5.wire_time(chunk.len()));
            if n.is_multiple_of(10) {
                peak_rss = peak_rss.max(p1mux.vm_rss_kib());
            }
        }
        // Let p1mux pass on all it has read, then pull the cable mid-telegram.
        wait_delivered(&readers, expected.len());
        pty.write(&SAMPLES[3][..300]);
        pty = replug(&p1mux, &link, pty);
        replugs += 1;
    }
    wait_delivered(&readers, expected.len());
    let busy_secs = procfs::cpu_seconds(pid) - cpu_at_start;
    let wall = started.elapsed();

    stop.store(true, Ordering::Relaxed);
    let connects = churn.join().unwrap();
    let flooded = flood.join().unwrap();
    slow.join().unwrap();
    drop(never);
    let received: Vec<Vec<u8>> = readers
        .into_iter()
        .map(|r| r.handle.join().unwrap())
        .collect();
    // Every client is gone (the readers were connected throughout, so this
    // is the first time the count is back to 0): the idle phase below
    // starts from an empty hub.
    p1mux.wait_for("(0 connected)");
    p1mux.signal(libc::SIGUSR1);
    let stats = p1mux.wait_for("stats:");

    // Idle: 100 clients, meter silent.
    let idle_clients: Vec<TcpStream> = (0..100).map(|_| connect(port)).collect();
    p1mux.wait_for("(100 connected)");
    let idle_cpu = procfs::cpu_seconds(pid);
    thread::sleep(idle_for);
    let idle_pct = (procfs::cpu_seconds(pid) - idle_cpu) / idle_for.as_secs_f64() * 100.0;
    drop(idle_clients);
    p1mux.wait_for("(0 connected)");
    let fds_at_end = fd_table(pid);
    peak_rss = peak_rss.max(p1mux.vm_rss_kib());

    println!(
        "soak: {:.0}s, {replugs} unplug/replug cycles, {connects} churn connections, {} MB flooded in",
        wall.as_secs_f64(),
        flooded / 1_000_000
    );
    println!("soak: telegrams sent {sent} (+{corrupted} corrupted, not to be delivered)");
    let mut leaked_total = 0;
    for (i, got) in received.iter().enumerate() {
        let (telegrams, leaked) = count_telegrams(got);
        leaked_total += leaked;
        println!(
            "soak: client {i}: delivered {telegrams}, corrupted leaked {leaked}, stream identical: {}",
            *got == expected
        );
    }
    println!(
        "soak: peak VmRSS {peak_rss} KiB; fds at start {}, at end {}",
        fds_at_start.values().sum::<usize>(),
        fds_at_end.values().sum::<usize>()
    );
    println!(
        "soak: CPU {busy_secs:.2}s over {:.0}s ({:.2}%); idle with 100 clients: {idle_pct:.2}% CPU",
        wall.as_secs_f64(),
        busy_secs / wall.as_secs_f64() * 100.0
    );
    println!("soak: {stats}");

    assert_eq!(leaked_total, 0, "corrupted telegrams reached clients");
    for got in &received {
        assert_eq!(
            count_telegrams(got).0,
            sent,
            "a well-behaved client missed telegrams"
        );
        assert!(
            *got == expected,
            "a well-behaved client's stream differs from what the meter sent"
        );
    }
    assert_eq!(
        fds_at_end, fds_at_start,
        "file descriptors leaked (by kind, at end vs at start)"
    );
    assert!(peak_rss < 64 * 1024, "VmRSS peaked at {peak_rss} KiB");
}

/// Waits until every reader has `len` bytes: p1mux has passed on all it read.
fn wait_delivered(readers: &[Reader], len: usize) {
    let deadline = Instant::now() + PATIENCE;
    while readers.iter().any(|r| r.got.load(Ordering::Relaxed) < len) {
        assert!(
            Instant::now() < deadline,
            "clients fell behind: {:?} of {len}",
            readers
                .iter()
                .map(|r| r.got.load(Ordering::Relaxed))
                .collect::<Vec<_>>()
        );
        thread::sleep(Duration::from_millis(5));
    }
}
