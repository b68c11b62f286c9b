//! What MQTT publishing costs p1mux: CPU per telegram with MQTT off, at
//! QoS 0 and at QoS 1, while 100 raw TCP clients read beside it.
//!
//!     cargo run --release --example mqtt-bench
//!     cargo run --release --example mqtt-bench -- --telegrams 600 --rate 20 --clients 100
//!
//! Needs mosquitto and mosquitto-clients (Debian packages). For each mode
//! a fresh mosquitto (on a free loopback port), a fresh p1mux (release
//! build) on a fresh pty, the TCP clients and one mosquitto_sub on the
//! telegram topic. After a warm-up the bench sends N distinct DSMR 5
//! telegrams (1045 bytes, each with its own time stamp and CRC) at a fixed
//! rate, waits until every client has every byte and the subscriber every
//! message, and prints the CPU time p1mux (and mosquitto) spent meanwhile,
//! from /proc/PID/task/*/schedstat (nanoseconds, all threads).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::fd::FromRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use crc::{CRC_16_ARC, Crc};

const SAMPLE: &[u8] = include_bytes!("../tests/data/dsmr50_sagemcom_cx2000_pfl10.txt");
const WARMUP: usize = 5;

fn main() {
    let mut telegrams = 300;
    let mut rate = 20.0;
    let mut clients = 100;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .and_then(|v| v.parse::<f64>().ok())
                .expect("a number")
        };
        match arg.as_str() {
            "--telegrams" => telegrams = value() as usize,
            "--rate" => rate = value(),
            "--clients" => clients = value() as usize,
            _ => {
                eprintln!("usage: mqtt-bench [--telegrams N] [--rate PER_SECOND] [--clients N]");
                std::process::exit(2);
            }
        }
    }
    let p1mux = build_p1mux();
    println!(
        "{telegrams} telegrams of {} bytes at {rate}/s, {clients} TCP clients",
        stamped(0).len()
    );
    println!(
        "{:<10} {:>14} {:>16} {:>18}",
        "mqtt", "p1mux µs/tgm", "p1mux total ms", "mosquitto µs/tgm"
    );
    for mode in ["off", "qos0", "qos1"] {
        let (p1mux_ns, broker_ns) = run(&p1mux, mode, telegrams, rate, clients);
        let per = |ns: u64| ns as f64 / telegrams as f64 / 1000.0;
        let broker = broker_ns.map_or("-".to_string(), |ns| format!("{:.1}", per(ns)));
        println!(
            "{mode:<10} {:>14.1} {:>16.1} {broker:>18}",
            per(p1mux_ns),
            p1mux_ns as f64 / 1e6
        );
    }
}

fn build_p1mux() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--bin", "p1mux"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("running cargo");
    assert!(status.success(), "cargo build --release --bin p1mux failed");
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).expect("target dir");
    target.join("release/p1mux")
}

/// DSMR 5 telegram `n`: its own time stamp, its own CRC.
fn stamped(n: usize) -> Vec<u8> {
    let text = std::str::from_utf8(SAMPLE).unwrap();
    let at = text.find("0-0:1.0.0(").unwrap() + 10;
    let stamp = format!("{:02}{:02}{:02}", n / 3600 % 24, n / 60 % 60, n % 60);
    let text = format!("{}{stamp}{}", &text[..at + 6], &text[at + 12..]);
    let body = &text[..=text.find('!').unwrap()];
    let crc = Crc::<u16>::new(&CRC_16_ARC).checksum(body.as_bytes());
    format!("{body}{crc:04X}\r\n").into_bytes()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// CPU time of all of a process's threads, in ns.
fn cpu_ns(pid: u32) -> u64 {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    dir.flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// A child killed on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until a line of `child`'s stdout or stderr contains `needle`.
fn wait_for_line(child: &mut Child, needle: &'static str) {
    let (tx, rx) = channel();
    let streams: Vec<Box<dyn Read + Send>> = vec![
        Box::new(child.stdout.take().unwrap()),
        Box::new(child.stderr.take().unwrap()),
    ];
    for stream in streams {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if line.contains(needle) {
                    let _ = tx.send(());
                }
            }
        });
    }
    rx.recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("never saw {needle:?}"));
}

fn pty() -> (std::fs::File, String) {
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two fds; the slave is closed once named.
    unsafe {
        assert_eq!(
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null()
            ),
            0
        );
        let mut t: libc::termios = std::mem::zeroed();
        libc::tcgetattr(master, &mut t);
        libc::cfmakeraw(&mut t);
        libc::tcsetattr(master, libc::TCSANOW, &t);
        let path = std::fs::read_link(format!("/proc/self/fd/{slave}")).unwrap();
        libc::close(slave);
        libc::fcntl(master, libc::F_SETFD, libc::FD_CLOEXEC);
        (
            std::fs::File::from_raw_fd(master),
            path.display().to_string(),
        )
    }
}

/// One mode; returns the CPU ns of p1mux and of mosquitto over the telegrams.
fn run(
    p1mux: &PathBuf,
    mode: &str,
    telegrams: usize,
    rate: f64,
    clients: usize,
) -> (u64, Option<u64>) {
    let dir = std::env::temp_dir().join(format!("p1mux-mqtt-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let total = WARMUP + telegrams;
    let mut broker = None;
    let mut sub = None;
    let mut mqtt_args: Vec<String> = Vec::new();
    if mode != "off" {
        let port = free_port();
        let config = dir.join("mosquitto.conf");
        // SAFETY: geteuid has no preconditions.
        let root = if unsafe { libc::geteuid() } == 0 {
            "user root\n"
        } else {
            ""
        };
        std::fs::write(
            &config,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\n{root}"),
        )
        .unwrap();
        let mut child = Command::new("mosquitto")
            .arg("-v")
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mosquitto (apt-get install mosquitto)");
        wait_for_line(&mut child, " running");
        broker = Some(Killed(child));
        let mut child = Command::new("stdbuf")
            .args([
                "-oL",
                "mosquitto_sub",
                "-d",
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .args([
                "-t",
                "p1mux/bench/telegram",
                "-q",
                "1",
                "-C",
                &total.to_string(),
                "-F",
                "%l",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mosquitto_sub (apt-get install mosquitto-clients)");
        wait_for_line(&mut child, "Subscribed (mid");
        sub = Some(child);
        let qos = if mode == "qos1" { "1" } else { "0" };
        mqtt_args = [
            "--mqtt",
            &format!("mqtt://127.0.0.1:{port}"),
            "--mqtt-id",
            "bench",
            "--mqtt-qos",
            qos,
        ]
        .map(String::from)
        .to_vec();
    }
    let (mut master, device) = pty();
    let tcp = free_port();
    let mut child = Command::new(p1mux)
        .args([
            "serve",
            "--device",
            &device,
            "--baud",
            "115200",
            "--framing",
            "8n1",
        ])
        .args([
            "--listen",
            &format!("127.0.0.1:{tcp}"),
            "--max-clients",
            &(clients + 1).to_string(),
        ])
        .args(&mqtt_args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting p1mux");
    wait_for_line(
        &mut child,
        if mode == "off" {
            "opened "
        } else {
            "mqtt: connected to"
        },
    );
    let server = Killed(child);
    let pid = server.0.id();
    let sent: Vec<Vec<u8>> = (0..total).map(stamped).collect();
    let bytes: usize = sent.iter().map(Vec::len).sum();
    let (done_tx, done_rx) = channel();
    for _ in 0..clients {
        let mut s = TcpStream::connect(("127.0.0.1", tcp)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let done = done_tx.clone();
        std::thread::spawn(move || {
            let mut got = 0;
            let mut buf = [0u8; 16 * 1024];
            while got < bytes {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got += n,
                }
            }
            let _ = done.send(got);
        });
    }
    std::thread::sleep(Duration::from_millis(300)); // let p1mux accept them all
    let gap = Duration::from_secs_f64(1.0 / rate);
    let mut cpu = (0, 0);
    let broker_pid = broker.as_ref().map(|b| b.0.id());
    let start = Instant::now();
    for (i, t) in sent.iter().enumerate() {
        if i == WARMUP {
            std::thread::sleep(Duration::from_millis(200));
            cpu = (cpu_ns(pid), broker_pid.map_or(0, cpu_ns));
        }
        master.write_all(t).unwrap();
        let next = start + gap * (i as u32 + 1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    for _ in 0..clients {
        let got = done_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("a client finished");
        assert_eq!(got, bytes, "a client lost bytes");
    }
    if let Some(mut sub) = sub {
        let deadline = Instant::now() + Duration::from_secs(60);
        while sub.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "the subscriber did not get all {total} telegrams"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let p1mux_ns = cpu_ns(pid) - cpu.0;
    let broker_ns = broker_pid.map(|b| cpu_ns(b) - cpu.1);
    drop(server);
    drop(broker);
    let _ = std::fs::remove_dir_all(&dir);
    (p1mux_ns, broker_ns)
}
