//! End-to-end fan-out benchmark: the real p1mux binary, and ser2net for
//! comparison, each fed by a pseudo-terminal "meter" and read by N TCP
//! clients; and what p1mux's HTTP and MQTT outputs cost those clients.
//!
//!     cargo run --release --example fanout-bench
//!     cargo run --release --example fanout-bench -- --clients 1,10,100 --check
//!     cargo run --release --example fanout-bench -- --clients 100 --sse 10 --rounds 5
//!     cargo run --release --example fanout-bench -- --clients 100 --mqtt qos0,qos1
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
//! reached each raw client's socket, by the kernel's receive timestamp
//! (SO_TIMESTAMPNS), so the bench's own loop over 1000 sockets adds nothing.
//! Server CPU is the schedstat time (ns) of all its threads over the
//! measured telegrams only. The server is pinned to one CPU and the bench to
//! the others, so the bench's wake-ups don't preempt it mid-fan-out; the
//! "preempt" column counts the server's involuntary context switches: when
//! it is not 0, something else took the server's CPU, and the latency tail
//! shows it. Each client checks that it got every telegram, byte for byte
//! and in order.
//!
//! `--sse N` adds rows where p1mux also serves `--http` to N event-stream
//! clients, `--mqtt qos0,qos1` rows where it also publishes to a fresh
//! mosquitto (Debian's package) per row; each event and message is checked
//! against what p1mux should send. Then the bench compares 100 raw clients
//! alone with each such row: their latency, p1mux's CPU, and, from the
//! same rows at 1 client (added to `--clients` for this), the other
//! output's own CPU and so the raw clients' share. `--rounds N` measures
//! every row N times, the rows taking turns, and reports medians.
//!
//! ser2net (Debian's package) runs the same workload when it is installed;
//! when it is not, the bench says how to install it and measures p1mux
//! alone; so for mosquitto and the MQTT rows. The targets are judged at the
//! end: with `--check`, a missed target or a telegram not delivered makes
//! the bench exit 1.

mod expect;
mod header;
mod measure;
mod mqtt;
mod options;
mod report;
mod servers;
mod sse;
mod targets;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use p1mux_testkit::SAMPLES;
use p1mux_testkit::host::{self, Pinning};
use p1mux_testkit::load::Numbered;

use expect::Expected;
use measure::RowSpec;
use options::{Kind, Mode, Opts, Setup};
use report::Rounds;

/// Telegrams sent before measuring, until every client has received one.
const WARMUPS: usize = 10;
/// How long the clients may receive nothing, after the last telegram, before
/// what they lack counts as lost.
const GRACE: Duration = Duration::from_secs(3);
/// The longest wait for a server that fell behind, after the last telegram.
const GIVE_UP: Duration = Duration::from_secs(120);
/// p1mux serves at most 64 HTTP connections.
const MAX_STREAMS: usize = 64;

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
    if opts.sse.0.iter().any(|&n| n > MAX_STREAMS) {
        return Err(format!(
            "--sse: p1mux serves at most {MAX_STREAMS} HTTP connections"
        ));
    }
    let machine = host::describe(); // before pinning narrows what it sees
    let mut setups = Setup::all(opts);
    let mut mosquitto = None;
    if setups.iter().any(|s| matches!(s, Setup::Mqtt(_))) {
        match mqtt::find(opts.mosquitto.as_deref()) {
            Ok(tools) => mosquitto = Some(tools),
            Err(why) => {
                eprintln!(
                    "fanout-bench: {why}: no MQTT rows. For them: \
                     sudo apt-get install mosquitto mosquitto-clients"
                );
                setups.retain(|s| !matches!(s, Setup::Mqtt(_)));
            }
        }
    }
    let mut clients = opts.clients.0.clone();
    if setups.len() > 1 && !clients.contains(&1) {
        // The other output's own cost: the rows beside it at 1 client.
        clients.insert(0, 1);
        eprintln!("fanout-bench: 1 client added: the HTTP/MQTT output's own cost at 1 client");
    }
    let most_clients = clients.iter().copied().max().unwrap_or(1);
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
        if let Some(before) = &opts.baseline {
            servers.push((Kind::Before, before.clone()));
        }
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
    let expected = match setups.len() > 1 {
        true => Some(Arc::new(Expected::new(&telegrams)?)),
        false => None,
    };
    let rows_of = |n: usize| {
        let mut rows = Vec::new();
        for (kind, bin) in &servers {
            // ser2net has no other outputs: it is compared with raw alone.
            let setups = if kind.is_p1mux() {
                &setups[..]
            } else {
                &setups[..1]
            };
            rows.extend(setups.iter().map(|&setup| (*kind, bin, setup, n)));
        }
        rows
    };
    header::print(
        opts,
        &machine,
        &servers,
        &setups,
        mosquitto.as_ref(),
        pinning.as_ref(),
    );

    let rounds = opts.rounds.max(1);
    let mut all: Vec<Rounds> = Vec::new();
    for &mode in &opts.modes.0 {
        let count = match mode {
            Mode::Interval => opts.telegrams,
            Mode::Burst => opts.burst,
        }
        .max(1);
        report::mode_title(mode, count, opts.baud, SAMPLES[6].len(), rounds);
        for &n in &clients {
            let first = all.len();
            for &(kind, _, setup, n) in &rows_of(n) {
                all.push(Rounds {
                    mode,
                    clients: n,
                    kind,
                    setup,
                    rounds: Vec::new(),
                });
            }
            // Round by round, every row in turn: a machine that gets busier
            // or quieter meanwhile weighs on every row alike.
            for round in 1..=rounds {
                for (i, &(kind, bin, setup, n)) in rows_of(n).iter().enumerate() {
                    let spec = RowSpec {
                        kind,
                        bin,
                        mode,
                        setup,
                        clients: n,
                        count,
                        telegrams: &telegrams,
                        expected: expected.as_ref(),
                        mosquitto: mosquitto.as_ref(),
                        max_clients: most_clients.max(1000) * 2,
                        server_cpu: pinning.as_ref().map(|p| p.server),
                        opts,
                    };
                    let row = spec.run();
                    if rounds > 1 {
                        report::progress(mode, n, setup.label(kind), round, rounds, &row);
                    }
                    all[first + i].rounds.push(row);
                }
            }
            let table = &all[first..];
            for r in table {
                report::row(r);
                let raw = table
                    .iter()
                    .find(|a| a.kind == r.kind && a.setup == Setup::Raw);
                match (r.kind, r.setup, raw) {
                    (Kind::Ser2net, Setup::Raw, _) => {
                        let p1mux = table.iter().find(|a| a.kind == Kind::P1mux);
                        if let Some(p) = p1mux.filter(|p| p.setup == Setup::Raw) {
                            report::ratio("p1mux/ser2net", p, r);
                        }
                    }
                    (Kind::Before, setup, _) => {
                        let p1mux = table
                            .iter()
                            .find(|a| a.kind == Kind::P1mux && a.setup == setup);
                        if let Some(p) = p1mux {
                            report::ratio("p1mux/before", p, r);
                        }
                    }
                    (_, Setup::Raw, _) | (_, _, None) => {}
                    (_, _, Some(raw)) => report::ratio("  vs alone", r, raw),
                }
            }
        }
        println!();
    }
    let missed = targets::judge(&all);
    Ok(!opts.check || missed == 0)
}
