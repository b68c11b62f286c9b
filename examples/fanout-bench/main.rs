//! End-to-end fan-out benchmark: the real p1mux binary, and ser2net for
//! comparison, each fed by a pseudo-terminal "meter" and read by N TCP
//! clients.
//!
//!     cargo run --release --example fanout-bench
//!     cargo run --release --example fanout-bench -- --clients 1,10,100 --check
//!
//! It builds p1mux itself (`cargo build --release --bin p1mux`: cargo does
//! not build a package's binaries for `cargo run --example`) unless given
//! `--p1mux PATH`, and prints one table per mode:
//!
//! - (a) a DSMR 5 meter: one ~1 KB telegram per second, delivered at line
//!   rate (115200 baud, 8N1: 11520 bytes/s) in 64-byte chunks, the way a
//!   USB serial adapter hands bytes to the kernel;
//! - (b) back to back: the same telegrams with no pause between them, still
//!   at line rate: the busiest a real P1 port gets (about 11 a second).
//!
//! For every row a fresh server is started on a fresh pty, so that peak RSS
//! (VmHWM) belongs to that row. Latency runs from the moment the write of a
//! telegram's last chunk to the pty returned to the moment its last byte
//! reached each client's socket, by the kernel's receive timestamp
//! (SO_TIMESTAMPNS), so the bench's own loop over 1000 sockets adds nothing.
//! Server CPU is the schedstat time (ns) of all its threads over the
//! measured telegrams only. The server is pinned to one CPU and the bench to
//! the others, so the bench's wake-ups don't preempt it mid-fan-out; the
//! "preempt" column counts the server's involuntary context switches: when
//! it is not 0, something else took the server's CPU, and the latency tail
//! shows it. Each client checks that it got every telegram, byte for byte
//! and in order.
//!
//! ser2net (Debian's package) runs the same workload when it is installed;
//! when it is not, the bench says how to install it and measures p1mux
//! alone. The targets are judged at the end: with `--check`, a missed target
//! or a telegram not delivered makes the bench exit 1.

mod options;
mod report;
mod servers;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use p1mux_testkit::host::{self, Pinning};
use p1mux_testkit::load::{Crowd, Numbered};
use p1mux_testkit::pty::{Pace, Pty, sleep_until};
use p1mux_testkit::{SAMPLES, net, procfs};

use options::{Kind, Mode, Opts};
use report::Row;
use servers::Server;

/// Telegrams sent before measuring, until every client has received one.
const WARMUPS: usize = 10;
/// How long the clients may receive nothing, after the last telegram, before
/// what they lack counts as lost.
const GRACE: Duration = Duration::from_secs(3);
/// The longest wait for a server that fell behind, after the last telegram.
const GIVE_UP: Duration = Duration::from_secs(120);

fn main() -> ExitCode {
    let opts: Opts = argh::from_env();
    match run(&opts) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("fanout-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Measures every row and judges the targets; false when `--check` was
/// asked for and something failed.
fn run(opts: &Opts) -> Result<bool, String> {
    if opts.clients.0.contains(&0) {
        return Err("--clients: each count must be at least 1".into());
    }
    let machine = host::describe(); // before pinning narrows what it sees
    let most_clients = opts.clients.0.iter().copied().max().unwrap_or(1);
    let need = 2 * most_clients as u64 + 256;
    let limit = host::raise_fd_limit(need);
    if limit < need {
        eprintln!("fanout-bench: {limit} descriptors allowed, {need} needed: raise ulimit -n");
    }
    let pinning = if opts.no_pin { None } else { Pinning::split() };
    let mut servers = Vec::new();
    if opts.servers.0.contains(&Kind::P1mux) {
        let bin = opts.p1mux.clone().map_or_else(servers::build_p1mux, Ok)?;
        servers.push((Kind::P1mux, bin));
    }
    if opts.servers.0.contains(&Kind::Ser2net) {
        match opts.ser2net.clone().or_else(servers::find_ser2net) {
            Some(bin) => servers.push((Kind::Ser2net, bin)),
            None => eprintln!(
                "fanout-bench: ser2net is not installed: measuring p1mux alone. \
                 For the comparison: sudo apt-get install ser2net"
            ),
        }
    }
    let telegrams = Numbered::new(SAMPLES[6], WARMUPS + opts.telegrams.max(opts.burst))?;
    report::header(opts, &machine, &servers, pinning.as_ref());

    let mut rows = Vec::new();
    for &mode in &opts.modes.0 {
        let count = match mode {
            Mode::Interval => opts.telegrams,
            Mode::Burst => opts.burst,
        }
        .max(1);
        report::mode_title(mode, count, opts.baud, SAMPLES[6].len());
        for &clients in &opts.clients.0 {
            for (kind, bin) in &servers {
                let spec = RowSpec {
                    kind: *kind,
                    bin,
                    mode,
                    clients,
                    count,
                    telegrams: &telegrams,
                    max_clients: most_clients.max(1000) * 2,
                    server_cpu: pinning.as_ref().map(|p| p.server),
                    opts,
                };
                let row = spec.run();
                report::row(clients, kind.name(), &row);
                rows.push((mode, clients, *kind, row));
            }
            if let [.., (_, _, Kind::P1mux, a), (_, _, Kind::Ser2net, b)] = rows.as_slice() {
                report::ratio(a, b);
            }
        }
        println!();
    }
    let missed = report::targets(&rows);
    Ok(!opts.check || missed == 0)
}

/// One row: one server, one mode, N clients.
struct RowSpec<'a> {
    kind: Kind,
    bin: &'a Path,
    mode: Mode,
    clients: usize,
    count: usize,
    telegrams: &'a Numbered,
    max_clients: usize,
    server_cpu: Option<usize>,
    opts: &'a Opts,
}

impl RowSpec<'_> {
    fn run(&self) -> Row {
        self.try_run()
            .unwrap_or_else(|e| Row::failed(self.clients, e))
    }

    fn try_run(&self) -> Result<Row, String> {
        let (tg, count) = (self.telegrams, self.count);
        let pace = Pace {
            baud: self.opts.baud,
            chunk: self.opts.chunk.max(1),
        };
        let pty = Pty::try_open().map_err(|e| format!("opening a pty: {e}"))?;
        let mut server = Server::start(self, &pty.slave_path)?;
        server.pin(self.server_cpu);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut crowd = Crowd::connect(self.clients, server.port, deadline)?;
        let mut meter = pty
            .master
            .try_clone()
            .map_err(|e| format!("dup of the pty: {e}"))?;
        let write_failed = |e: std::io::Error| format!("writing to the pty: {e}");

        // Warm up until every client has had a telegram: the server has
        // them all, and the caches are warm. Then let the rest settle.
        for w in 0..WARMUPS {
            pace.send(&mut meter, tg.get(w), Instant::now())
                .map_err(write_failed)?;
            let until = Instant::now() + Duration::from_secs(1);
            crowd.pump_until(until, tg, Crowd::all_warm);
            if let Some(why) = server.died(self.kind) {
                return Err(why);
            }
            if crowd.all_warm() {
                break;
            }
        }
        crowd.pump_until(Instant::now() + Duration::from_millis(300), tg, |_| false);
        let connected = crowd
            .clients()
            .iter()
            .filter(|c| c.warm && !c.closed)
            .count();
        crowd.begin_measuring(WARMUPS, count);

        // Measure: a thread plays the meter on an absolute schedule (a late
        // write does not shift the rest), this one the clients.
        let written: Arc<Vec<AtomicI64>> =
            Arc::new((0..count).map(|_| AtomicI64::new(0)).collect());
        let period = match self.mode {
            Mode::Interval => Duration::from_secs(1),
            Mode::Burst => pace.wire_time(tg.get(0).len()),
        };
        server.pin(self.server_cpu); // threads it started since (ser2net's)
        let pid = server.daemon.pid();
        let (cpu0, preempted0) = (procfs::cpu_ns(pid), procfs::involuntary_switches(pid));
        let bench_cpu0 = procfs::thread_cpu_ns();
        let t0 = Instant::now() + Duration::from_millis(20);
        let writer = {
            let (written, sends) = (
                written.clone(),
                (WARMUPS..WARMUPS + count).map(|i| tg.get(i).to_vec()),
            );
            let sends: Vec<Vec<u8>> = sends.collect();
            std::thread::spawn(move || -> std::io::Result<()> {
                for (k, t) in sends.iter().enumerate() {
                    let start = t0 + period * k as u32;
                    sleep_until(start);
                    pace.send(&mut meter, t, start)?;
                    written[k].store(net::realtime_ns(), Ordering::Relaxed);
                }
                Ok(())
            })
        };
        // After the last telegram, wait while telegrams still arrive (a
        // server that fell behind is late, not lossy), then GRACE more.
        let (mut progress, mut finished) = ((0, Instant::now()), None);
        loop {
            crowd.pump(Duration::from_millis(20), tg);
            if !writer.is_finished() {
                continue;
            }
            let now = Instant::now();
            let done = *finished.get_or_insert(now);
            if crowd.arrived() != progress.0 {
                progress = (crowd.arrived(), now);
            }
            if crowd.all_complete() || now >= progress.1.max(done) + GRACE || now >= done + GIVE_UP
            {
                break;
            }
        }
        writer
            .join()
            .map_err(|_| "the meter thread panicked")?
            .map_err(write_failed)?;
        // Mode (a) measures whole meter periods, idle time included.
        if self.mode == Mode::Interval {
            crowd.pump_until(t0 + period * count as u32, tg, |_| false);
        }
        let cpu_ns = procfs::cpu_ns(pid)
            .zip(cpu0)
            .map_or(0, |(b, a)| b.saturating_sub(a));
        let preempted = procfs::involuntary_switches(pid).saturating_sub(preempted0);
        let wall = t0.elapsed();
        let hwm_kib = procfs::vm_hwm_kib(pid).unwrap_or(0);
        let died = server.died(self.kind);
        let bench_cpu = procfs::thread_cpu_ns() - bench_cpu0;
        server.daemon.stop(Duration::from_secs(3));

        let written: Vec<i64> = written.iter().map(|w| w.load(Ordering::Relaxed)).collect();
        if self.opts.detail {
            let share = bench_cpu as f64 / wall.as_nanos() as f64 * 100.0;
            eprintln!(
                "  {} x{}: bench client loop used {share:.1}% of a CPU",
                self.kind.name(),
                self.clients
            );
            report::detail(&crowd, &written);
        }
        let mut row = Row::measured(&crowd, &written, connected);
        (row.cpu_ns, row.wall_ns, row.hwm_kib, row.preempted) =
            (cpu_ns, wall.as_nanos() as u64, hwm_kib, preempted);
        row.failed = died;
        Ok(row)
    }
}
