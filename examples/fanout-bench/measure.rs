//! One round of one row: a fresh server on a fresh pty, its clients, the
//! meter playing its telegrams, and what arrived.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use p1mux_testkit::load::{Crowd, Numbered};
use p1mux_testkit::pty::{Pace, Pty, sleep_until};
use p1mux_testkit::{net, procfs};

use crate::expect::Expected;
use crate::mqtt::{self, Broker, Subscriber};
use crate::options::{Kind, Mode, Opts, Setup};
use crate::report::{self, Extra, Row};
use crate::servers::Server;
use crate::sse::Streams;
use crate::{GIVE_UP, GRACE, WARMUPS};

/// One row: one server, one mode, N clients, one setup.
pub struct RowSpec<'a> {
    pub kind: Kind,
    pub bin: &'a Path,
    pub mode: Mode,
    pub setup: Setup,
    pub clients: usize,
    pub count: usize,
    pub telegrams: &'a Numbered,
    /// What the HTTP and MQTT outputs should send (rows beside them).
    pub expected: Option<&'a Arc<Expected>>,
    pub mosquitto: Option<&'a mqtt::Tools>,
    pub max_clients: usize,
    pub server_cpu: Option<usize>,
    pub opts: &'a Opts,
}

/// The consumers beside the raw clients, for the rows that have them.
enum Beside {
    Nothing,
    Streams(Streams),
    /// Boxed: a broker and a subscriber are two processes with their logs.
    Mqtt(Box<(Broker, Subscriber)>),
}

impl RowSpec<'_> {
    pub fn run(&self) -> Row {
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
        // The broker and its subscriber come first: p1mux connects at start.
        let (mut more, mut beside) = (Vec::new(), Beside::Nothing);
        if let Setup::Mqtt(qos) = self.setup {
            let tools = self.mosquitto.ok_or("mosquitto is not installed")?;
            let broker = mqtt::start_broker(tools)?;
            more = mqtt::p1mux_args(&broker, qos);
            let sub = Subscriber::start(tools, broker.port, qos)?;
            beside = Beside::Mqtt(Box::new((broker, sub)));
        }
        if let Setup::Sse(_) = self.setup {
            more = ["--http", "127.0.0.1:0"].map(String::from).to_vec();
        }
        let mut server = Server::start(self, &pty.slave_path, &more)?;
        server.pin(self.server_cpu);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut crowd = Crowd::connect(self.clients, server.port, deadline)?;
        if let Setup::Sse(n) = self.setup {
            let port = server.http_port.ok_or("p1mux has no status page")?;
            let expected = self.expected.ok_or("no expected events")?.clone();
            beside = Beside::Streams(Streams::open(n, port, expected, WARMUPS, count)?);
        }
        let mut meter = pty
            .master
            .try_clone()
            .map_err(|e| format!("dup of the pty: {e}"))?;
        let write_failed = |e: std::io::Error| format!("writing to the pty: {e}");

        // Warm up until every client has had a telegram: the server has
        // them all, and the caches are warm. Then let the rest settle.
        let warm = |crowd: &Crowd| crowd.all_warm() && beside.all_warm();
        for w in 0..WARMUPS {
            pace.send(&mut meter, tg.get(w), Instant::now())
                .map_err(write_failed)?;
            let until = Instant::now() + Duration::from_secs(1);
            crowd.pump_until(until, tg, warm);
            if let Some(why) = server.died(self.kind) {
                return Err(why);
            }
            if warm(&crowd) {
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
        let broker_pid = beside.broker_pid();
        let (cpu0, preempted0) = (procfs::cpu_ns(pid), procfs::involuntary_switches(pid));
        let broker_cpu0 = broker_pid.and_then(procfs::cpu_ns);
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
        let written: Vec<i64> = written.iter().map(|w| w.load(Ordering::Relaxed)).collect();
        // The other consumers have theirs (their work is in the CPU figure).
        let give_up = finished.unwrap_or_else(Instant::now) + GIVE_UP;
        let extra = beside.finish((tg, self.expected), &written, broker_cpu0, give_up);
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

        if self.opts.detail {
            let share = bench_cpu as f64 / wall.as_nanos() as f64 * 100.0;
            eprintln!(
                "  {} x{}: bench client loop used {share:.1}% of a CPU",
                self.setup.label(self.kind),
                self.clients
            );
            report::detail(&crowd, &written);
        }
        let mut row = Row::measured(&crowd, &written, connected);
        (row.cpu_ns, row.wall_ns, row.hwm_kib, row.preempted) =
            (cpu_ns, wall.as_nanos() as u64, hwm_kib, preempted);
        (row.extra, row.failed) = (extra, died);
        Ok(row)
    }
}

impl Beside {
    fn all_warm(&self) -> bool {
        match self {
            Beside::Streams(s) => s.all_warm(),
            _ => true,
        }
    }

    fn broker_pid(&self) -> Option<i32> {
        match self {
            Beside::Mqtt(both) => Some(both.0.daemon.pid()),
            _ => None,
        }
    }

    /// What the consumers beside the raw clients received, once they have
    /// it all or nothing came for GRACE; and the broker's CPU time since
    /// `broker_cpu0`, before it is stopped.
    fn finish(
        self,
        (tg, expected): (&Numbered, Option<&Arc<Expected>>),
        written: &[i64],
        broker_cpu0: Option<u64>,
        give_up: Instant,
    ) -> Option<Extra> {
        match self {
            Beside::Nothing => None,
            Beside::Streams(streams) => {
                let expected = streams.opened() * written.len();
                let got = streams.finish(GRACE, give_up);
                let mut extra = Extra::new("sse", expected);
                for s in &got {
                    extra.lat.extend(report::latencies(&s.arrived, written));
                    (extra.corrupt, extra.disorder) =
                        (extra.corrupt + s.corrupt, extra.disorder + s.disorder);
                    extra.closed += usize::from(s.closed);
                }
                extra.delivered = extra.lat.len();
                extra.lat.sort_unstable();
                Some(extra)
            }
            Beside::Mqtt(both) => {
                let (broker, sub) = *both;
                let expected = expected?;
                let count = written.len();
                let mut extra = sub.collect((tg, expected), WARMUPS, count, GRACE, give_up);
                let cpu = procfs::cpu_ns(broker.daemon.pid()).zip(broker_cpu0);
                extra.broker_cpu_ns = cpu.map(|(b, a)| b.saturating_sub(a));
                Some(extra)
            }
        }
    }
}
