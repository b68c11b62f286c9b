//! What one row measured, its rounds' medians, and the tables.

use std::fmt::Write as _;

use p1mux_testkit::load::Crowd;

use crate::{Kind, Mode, Setup};

/// One server, one mode, N clients, one round: the figures and delivery.
#[derive(Default)]
pub struct Row {
    /// The raw clients' latencies in ns, over all clients and telegrams, sorted.
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
    /// The event streams' or the MQTT subscriber's delivery.
    pub extra: Option<Extra>,
    /// Why the row could not be measured, or the server died.
    pub failed: Option<String>,
}

/// What the consumers beside the raw clients (event streams, MQTT
/// subscriber) received of the measured telegrams.
#[derive(Default, Clone)]
pub struct Extra {
    /// `sse` or `mqtt`.
    pub what: &'static str,
    pub expected: usize,
    pub delivered: usize,
    /// Not what p1mux should have sent, byte for byte.
    pub corrupt: usize,
    /// Came again, or out of order.
    pub disorder: usize,
    /// Streams that were closed (or never opened).
    pub closed: usize,
    /// Event latencies (ns, sorted), when they are measured (SSE).
    pub lat: Vec<i64>,
    /// The broker's CPU time over the measured telegrams (MQTT).
    pub broker_cpu_ns: Option<u64>,
}

impl Extra {
    pub fn new(what: &'static str, expected: usize) -> Extra {
        Extra {
            what,
            expected,
            ..Extra::default()
        }
    }

    fn clean(&self) -> bool {
        self.delivered == self.expected && self.corrupt + self.disorder + self.closed == 0
    }

    fn delivery(&self) -> String {
        let mut s = match self.clean() {
            true => format!("{} ok", self.what),
            false => format!("!! {} {}/{}", self.what, self.delivered, self.expected),
        };
        for (n, what) in [
            (self.corrupt, "corrupt"),
            (self.disorder, "again or out of order"),
            (self.closed, "closed"),
        ] {
            if n > 0 {
                let _ = write!(s, ", {n} {what}");
            }
        }
        if let Some(p50) = pct(&self.lat, 0.5) {
            let _ = write!(s, " (p50 {})", ms(Some(p50)));
        }
        s
    }
}

fn pct(sorted: &[i64], p: f64) -> Option<i64> {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
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
            row.lat.extend(latencies(&c.arrived, written));
            row.corrupt += c.corrupt;
            row.disorder += c.disorder;
            row.junk += c.junk;
            row.closed += usize::from(c.closed);
        }
        row.delivered = row.lat.len();
        row.lat.sort_unstable();
        row
    }

    fn cpu_per_telegram(&self) -> f64 {
        self.cpu_ns as f64 / self.telegrams.max(1) as f64
    }

    fn clean(&self) -> bool {
        self.failed.is_none()
            && self.connected == self.clients
            && self.delivered == self.expected
            && self.corrupt + self.disorder + self.junk + self.closed == 0
            && self.extra.as_ref().is_none_or(Extra::clean)
    }
}

/// Latency of each telegram that `arrived` (receive time, 0 if not).
pub fn latencies<'a>(arrived: &'a [i64], written: &'a [i64]) -> impl Iterator<Item = i64> + 'a {
    let both = arrived.iter().zip(written).filter(|(ts, _)| **ts != 0);
    both.map(|(ts, w)| ts - w)
}

/// Every round of one row: its figures are the medians over the rounds.
pub struct Rounds {
    pub mode: Mode,
    pub clients: usize,
    pub kind: Kind,
    pub setup: Setup,
    pub rounds: Vec<Row>,
}

/// The median of the values that are there.
fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

impl Rounds {
    /// The rounds that were measured (the server ran to the end).
    fn ok(&self) -> impl Iterator<Item = &Row> {
        self.rounds.iter().filter(|r| r.failed.is_none())
    }

    pub fn measured(&self) -> bool {
        self.ok().next().is_some()
    }

    /// A figure of each measured round, in order.
    pub fn each(&self, f: impl Fn(&Row) -> Option<f64>) -> Vec<f64> {
        self.ok().filter_map(f).collect()
    }

    fn med(&self, f: impl Fn(&Row) -> Option<f64>) -> Option<f64> {
        median(self.each(f))
    }

    /// The raw clients' latency percentile `p`, in ns.
    pub fn lat(&self, p: f64) -> Option<f64> {
        self.med(|r| pct(&r.lat, p).map(|v| v as f64))
    }

    pub fn p99_of(r: &Row) -> Option<f64> {
        pct(&r.lat, 0.99).map(|v| v as f64)
    }

    pub fn cpu_of(r: &Row) -> Option<f64> {
        Some(r.cpu_per_telegram())
    }

    pub fn cpu_per_telegram(&self) -> Option<f64> {
        self.med(Rounds::cpu_of)
    }

    /// Share of a CPU over the measured time.
    pub fn cpu_share(&self) -> Option<f64> {
        self.med(|r| Some(r.cpu_ns as f64 / r.wall_ns.max(1) as f64))
    }

    pub fn hwm_kib(&self) -> Option<f64> {
        self.med(|r| Some(r.hwm_kib as f64))
    }

    /// The broker's CPU per telegram (MQTT rows).
    pub fn broker_cpu(&self) -> Option<f64> {
        let per = |r: &Row| Some(r.extra.as_ref()?.broker_cpu_ns? as f64 / r.telegrams as f64);
        self.med(per)
    }

    pub fn clean(&self) -> bool {
        self.rounds.iter().all(Row::clean)
    }

    /// Every round's delivery, summed.
    pub fn delivery(&self) -> String {
        let rows = &self.rounds;
        if let Some(why) = rows.iter().find_map(|r| r.failed.as_ref()) {
            return format!("!! FAILED: {}", why.lines().next().unwrap_or(""));
        }
        let sum = |f: fn(&Row) -> usize| rows.iter().map(f).sum::<usize>();
        let (clients, telegrams) = (self.clients, sum(|r| r.telegrams));
        let mut s = if rows.iter().all(Row::clean) {
            format!("ok {clients}x{telegrams}")
        } else {
            let (delivered, expected) = (sum(|r| r.delivered), sum(|r| r.expected));
            let mut s = format!("!! {delivered}/{expected} delivered");
            let served = sum(|r| r.connected);
            if served < sum(|r| r.clients) {
                let _ = write!(s, ", only {served} clients served");
            }
            for (n, what) in [
                (expected - delivered, "lost"),
                (sum(|r| r.corrupt), "corrupt"),
                (sum(|r| r.disorder), "out of order"),
                (sum(|r| r.junk), "junk bytes"),
                (sum(|r| r.closed), "clients closed"),
            ] {
                if n > 0 {
                    let _ = write!(s, ", {n} {what}");
                }
            }
            s
        };
        let mut extras = rows.iter().filter_map(|r| r.extra.clone());
        if let Some(mut all) = extras.next() {
            for e in extras {
                all.expected += e.expected;
                all.delivered += e.delivered;
                (all.corrupt, all.disorder) = (all.corrupt + e.corrupt, all.disorder + e.disorder);
                all.closed += e.closed;
                all.lat.extend(e.lat);
            }
            all.lat.sort_unstable();
            let _ = write!(s, "; {}", all.delivery());
        }
        s
    }
}

pub fn ms(ns: Option<i64>) -> String {
    ns.map_or("-".into(), |v| format!("{:.3}ms", v as f64 / 1e6))
}

pub fn msf(ns: Option<f64>) -> String {
    ms(ns.map(|v| v as i64))
}

pub fn cpu(ns: f64) -> String {
    match ns >= 1e6 {
        true => format!("{:.2}ms", ns / 1e6),
        false => format!("{:.0}µs", ns / 1e3),
    }
}

pub fn mode_title(mode: Mode, count: usize, baud: u32, telegram_len: usize, rounds: usize) {
    let per_row = match rounds {
        1 => format!("{count} telegrams per row"),
        n => format!("{count} telegrams per row and round, medians of {n} rounds"),
    };
    match mode {
        Mode::Interval => println!("(a) 1 s meter interval: {per_row}"),
        Mode::Burst if baud == 0 => println!("(b) back to back, unpaced: {per_row}"),
        Mode::Burst => {
            let per_s = f64::from(baud) / 10.0 / telegram_len as f64;
            println!("(b) back to back at line rate: {per_row} ({per_s:.1} telegrams/s)");
        }
    }
    println!(
        "{:>7}  {:<15} {:>9} {:>9} {:>9}  {:>10} {:>7} {:>9} {:>7}  delivery",
        "clients", "server", "lat p50", "p99", "max", "CPU/tgram", "CPU", "peak RSS", "preempt"
    );
}

pub fn row(r: &Rounds) {
    let name = r.setup.label(r.kind);
    if !r.measured() {
        println!("{:>7}  {name:<15} {}", r.clients, r.delivery());
        return;
    }
    let preempt = r.med(|r| Some(r.preempted as f64)).unwrap_or(0.0);
    let mut delivery = r.delivery();
    if let Some(b) = r.broker_cpu() {
        let _ = write!(delivery, "; mosquitto {}/tgram", cpu(b));
    }
    println!(
        "{:>7}  {name:<15} {:>9} {:>9} {:>9}  {:>10} {:>6.3}% {:>5.1} MiB {:>7}  {delivery}",
        r.clients,
        msf(r.lat(0.50)),
        msf(r.lat(0.99)),
        msf(r.lat(1.0)),
        cpu(r.cpu_per_telegram().unwrap_or(0.0)),
        r.cpu_share().unwrap_or(0.0) * 100.0,
        r.hwm_kib().unwrap_or(0.0) / 1024.0,
        preempt
    );
}

/// One round's figures, to stderr, while the rounds go on.
pub fn progress(mode: Mode, clients: usize, name: String, round: usize, of: usize, r: &Row) {
    let what = match &r.failed {
        Some(why) => format!("FAILED: {}", why.lines().next().unwrap_or("")),
        None => format!(
            "p99 {}, CPU/tgram {}",
            ms(pct(&r.lat, 0.99)),
            cpu(r.cpu_per_telegram())
        ),
    };
    eprintln!(
        "  {} {clients:>4} {name:<15} round {round}/{of}: {what}",
        mode.label()
    );
}

/// `a`'s figures over `b`'s: p1mux over ser2net, or a setup over raw.
pub fn ratio(label: &str, a: &Rounds, b: &Rounds) {
    let of = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) if y > 0.0 => format!("{:.2}x", x / y),
        _ => "-".into(),
    };
    println!(
        "{:>7}  {label:<15} {:>9} {:>9} {:>9}  {:>10} {:>7} {:>9}",
        "",
        of(a.lat(0.5), b.lat(0.5)),
        of(a.lat(0.99), b.lat(0.99)),
        of(a.lat(1.0), b.lat(1.0)),
        of(a.cpu_per_telegram(), b.cpu_per_telegram()),
        "",
        of(a.hwm_kib(), b.hwm_kib()),
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
