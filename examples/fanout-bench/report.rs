//! What one row measured, the tables, and the targets.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use p1mux_testkit::host::Pinning;
use p1mux_testkit::load::Crowd;
use p1mux_testkit::process;

use crate::{Kind, Mode, Opts};

/// One server, one mode, N clients: the figures and the delivery count.
#[derive(Default)]
pub struct Row {
    /// Latencies in ns, over all clients and telegrams, sorted.
    lat: Vec<i64>,
    pub cpu_ns: u64,
    pub wall_ns: u64,
    telegrams: usize,
    pub hwm_kib: u64,
    pub preempted: u64,
    clients: usize,
    connected: usize,
    expected: usize,
    delivered: usize,
    corrupt: usize,
    disorder: usize,
    junk: usize,
    closed: usize,
    /// Why the row could not be measured, or the server died.
    pub failed: Option<String>,
}

impl Row {
    pub fn failed(clients: usize, why: String) -> Row {
        Row {
            clients,
            failed: Some(why),
            ..Row::default()
        }
    }

    /// Latencies and delivery, from what each client received after the
    /// meter `written` each telegram (wall clock ns).
    pub fn measured(crowd: &Crowd, written: &[i64], connected: usize) -> Row {
        let clients = crowd.clients();
        let mut row = Row {
            telegrams: written.len(),
            clients: clients.len(),
            connected,
            expected: clients.len() * written.len(),
            ..Row::default()
        };
        for c in clients {
            let arrived = c.arrived.iter().zip(written).filter(|(ts, _)| **ts != 0);
            row.lat.extend(arrived.map(|(ts, w)| ts - w));
            row.corrupt += c.corrupt;
            row.disorder += c.disorder;
            row.junk += c.junk;
            row.closed += usize::from(c.closed);
        }
        row.delivered = row.lat.len();
        row.lat.sort_unstable();
        row
    }

    fn pct(&self, p: f64) -> Option<i64> {
        let rank = (p * self.lat.len() as f64).ceil() as usize;
        self.lat
            .get(rank.clamp(1, self.lat.len().max(1)) - 1)
            .copied()
    }

    fn cpu_per_telegram(&self) -> f64 {
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

    fn delivery(&self) -> String {
        if let Some(why) = &self.failed {
            return format!("!! FAILED: {}", why.lines().next().unwrap_or(""));
        }
        if self.clean() {
            return format!("ok {}x{}", self.clients, self.telegrams);
        }
        let mut s = format!("!! {}/{} delivered", self.delivered, self.expected);
        if self.connected < self.clients {
            let _ = write!(
                s,
                ", only {}/{} clients served",
                self.connected, self.clients
            );
        }
        for (n, what) in [
            (self.expected - self.delivered, "lost"),
            (self.corrupt, "corrupt"),
            (self.disorder, "out of order"),
            (self.junk, "junk bytes"),
            (self.closed, "clients closed"),
        ] {
            if n > 0 {
                let _ = write!(s, ", {n} {what}");
            }
        }
        s
    }
}

pub fn header(opts: &Opts, machine: &str, servers: &[(Kind, PathBuf)], pinning: Option<&Pinning>) {
    println!("fanout-bench: pty meter -> server -> N TCP clients on 127.0.0.1");
    println!("machine: {machine}");
    for (kind, bin) in servers {
        if *kind == Kind::P1mux {
            let git = Command::new("git")
                .args(["describe", "--always", "--dirty"])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output();
            let rev = git.map_or(String::new(), |o| {
                String::from_utf8_lossy(&o.stdout).trim().to_string()
            });
            let version = process::first_line(bin, &["--version"]);
            println!("p1mux:   {} ({version}, git {rev})", bin.display());
        } else {
            let mut options = "default options but max-connections".to_string();
            for (k, v) in &opts.ser2net_opt {
                let _ = write!(options, ", {k}: {v}");
            }
            let version = process::first_line(bin, &["-v"]);
            println!("ser2net: {} ({version}), {options}", bin.display());
        }
    }
    let line = match opts.baud {
        0 => "no pacing: a telegram per write".to_string(),
        baud => format!("{baud} baud 8N1, {}-byte chunks", opts.chunk),
    };
    println!(
        "meter:   real DSMR 5.0 telegram (Sagemcom CX2000), fresh timestamp and CRC each, {line}"
    );
    println!(
        "latency: meter's last byte written -> client's last byte received (kernel timestamp),"
    );
    println!("         p50/p99/max over all clients x telegrams");
    println!(
        "cpu:     server's schedstat time over the measured telegrams, per telegram and as % of"
    );
    println!(
        "         wall time; peak RSS: VmHWM; preempt: the server's involuntary context switches"
    );
    if cfg!(debug_assertions) {
        println!("NOTE:    built without --release: the client loop may lag");
    }
    match pinning {
        Some(p) => println!(
            "pinning: server on CPU {}, bench on CPUs {:?}",
            p.server, p.bench
        ),
        None => println!("pinning: none"),
    }
    println!();
}

pub fn mode_title(mode: Mode, count: usize, baud: u32, telegram_len: usize) {
    match mode {
        Mode::Interval => println!("(a) 1 s meter interval: {count} telegrams per row"),
        Mode::Burst if baud == 0 => {
            println!("(b) back to back, unpaced: {count} telegrams per row")
        }
        Mode::Burst => {
            let per_s = f64::from(baud) / 10.0 / telegram_len as f64;
            println!(
                "(b) back to back at line rate: {count} telegrams per row ({per_s:.1} telegrams/s)"
            );
        }
    }
    println!(
        "{:>7}  {:<8} {:>9} {:>9} {:>9}  {:>10} {:>7} {:>9} {:>7}  delivery",
        "clients", "server", "lat p50", "p99", "max", "CPU/tgram", "CPU", "peak RSS", "preempt"
    );
}

fn ms(ns: Option<i64>) -> String {
    ns.map_or("-".into(), |v| format!("{:.3}ms", v as f64 / 1e6))
}

fn cpu(ns: f64) -> String {
    match ns >= 1e6 {
        true => format!("{:.2}ms", ns / 1e6),
        false => format!("{:.0}µs", ns / 1e3),
    }
}

pub fn row(clients: usize, server: &str, r: &Row) {
    if r.telegrams == 0 {
        println!("{clients:>7}  {server:<8} {}", r.delivery());
        return;
    }
    println!(
        "{clients:>7}  {server:<8} {:>9} {:>9} {:>9}  {:>10} {:>6.3}% {:>5.1} MiB {:>7}  {}",
        ms(r.pct(0.50)),
        ms(r.pct(0.99)),
        ms(r.lat.last().copied()),
        cpu(r.cpu_per_telegram()),
        r.cpu_share() * 100.0,
        r.hwm_kib as f64 / 1024.0,
        r.preempted,
        r.delivery()
    );
}

/// p1mux's figures over ser2net's.
pub fn ratio(a: &Row, b: &Row) {
    let of = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) if y > 0.0 => format!("{:.2}x", x / y),
        _ => "-".into(),
    };
    let p = |r: &Row, q| r.pct(q).map(|v| v as f64);
    println!(
        "{:>7}  {:<8} {:>9} {:>9} {:>9}  {:>10} {:>7} {:>9}",
        "",
        "ratio",
        of(p(a, 0.5), p(b, 0.5)),
        of(p(a, 0.99), p(b, 0.99)),
        of(p(a, 1.0), p(b, 1.0)),
        of(Some(a.cpu_per_telegram()), Some(b.cpu_per_telegram())),
        "",
        of(Some(a.hwm_kib as f64), Some(b.hwm_kib as f64)),
    );
}

/// Per telegram, the fastest, median and slowest client.
pub fn detail(crowd: &Crowd, written: &[i64]) {
    for (k, w) in written.iter().enumerate() {
        let mut lat: Vec<(i64, usize)> = crowd
            .clients()
            .iter()
            .enumerate()
            .filter(|(_, c)| c.arrived[k] != 0)
            .map(|(i, c)| (c.arrived[k] - w, i))
            .collect();
        lat.sort_unstable();
        if let (Some(lo), Some(hi)) = (lat.first(), lat.last()) {
            let med = lat[lat.len() / 2].0;
            eprintln!(
                "  telegram {k:4}: min {} (client {}) median {} max {} (client {})",
                ms(Some(lo.0)),
                lo.1,
                ms(Some(med)),
                ms(Some(hi.0)),
                hi.1
            );
        }
    }
}

/// Prints each target with ✓ (met), ✗ (missed) or ? (not measured: no
/// ser2net row to compare with); returns how many were missed.
pub fn targets(rows: &[(Mode, usize, Kind, Row)]) -> usize {
    let get = |mode, n, kind| {
        let found = rows
            .iter()
            .find(|(m, c, k, r)| (*m, *c, *k) == (mode, n, kind) && r.failed.is_none());
        found.map(|(.., r)| r)
    };
    let mut judged: Vec<(Option<bool>, String)> = Vec::new();
    for mode in [Mode::Interval, Mode::Burst] {
        let label = mode.label();
        let Some(p) = get(mode, 100, Kind::P1mux) else {
            continue;
        };
        let p99 = p.pct(0.99);
        // Without ser2net these show as "?": not judged, not missed.
        let s = get(mode, 100, Kind::Ser2net);
        let cpu_ok = s.map(|s| p.cpu_per_telegram() * 5.0 <= s.cpu_per_telegram());
        let s_cpu = s.map_or("-".into(), |s| cpu(s.cpu_per_telegram()));
        let what = format!(
            "CPU per telegram <= 1/5 of ser2net's ({} vs {s_cpu})",
            cpu(p.cpu_per_telegram())
        );
        judged.push((cpu_ok, format!("{label} 100 clients: {what}")));
        let s99 = s.and_then(|s| s.pct(0.99));
        let what = format!("p99 latency <= ser2net's ({} vs {})", ms(p99), ms(s99));
        judged.push((
            p99.zip(s99).map(|(a, b)| a <= b),
            format!("{label} 100 clients: {what}"),
        ));
        let fast = p99.map(|v| v < 2_000_000);
        judged.push((
            fast,
            format!("{label} 100 clients: p99 latency < 2 ms ({})", ms(p99)),
        ));
        let rss = format!("{:.1} MiB", p.hwm_kib as f64 / 1024.0);
        judged.push((
            Some(p.hwm_kib < 4096),
            format!("{label} 100 clients: peak RSS < 4 MiB ({rss})"),
        ));
    }
    if let Some(p) = get(Mode::Interval, 1000, Kind::P1mux) {
        let share = p.cpu_share() * 100.0;
        judged.push((
            Some(share < 1.0),
            format!("(a) 1000 clients, 1 s interval: CPU < 1% ({share:.3}%)"),
        ));
    }
    let bad: Vec<_> = rows.iter().filter(|(.., r)| !r.clean()).collect();
    let p1mux_clean = !bad.iter().any(|(.., kind, _)| *kind == Kind::P1mux);
    let what = "delivery: every client got every telegram, whole and in order, in every row";
    judged.push((Some(p1mux_clean), what.into()));

    println!("targets (p1mux):");
    if judged.len() == 1 {
        println!("  (latency, CPU and memory targets are judged at 100 and 1000 clients)");
    }
    for (ok, what) in &judged {
        let mark = match ok {
            Some(true) => "✓",
            Some(false) => "✗",
            None => "?",
        };
        println!("  {mark} {what}");
    }
    for (mode, n, kind, r) in bad {
        println!(
            "  !! {} {n} clients, {}: {}",
            mode.label(),
            kind.name(),
            r.delivery()
        );
        for line in r.failed.iter().flat_map(|why| why.lines().skip(1)) {
            println!("      {line}");
        }
    }
    judged.iter().filter(|(ok, _)| *ok == Some(false)).count()
}
