//! The event loop: one thread, one `mio::Poll`, serial port (or network
//! source, or demo meter) in, framer in the middle, hub out.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use log::{debug, info, warn};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook_mio::v1_0::Signals;

use crate::config::{Config, Forward, Source};
use crate::demo::DemoMeter;
use crate::detect::{Detector, Found, Setting, Step, generation, header};
use crate::framer::{Event, Framer, Parity};
use crate::hub::{Hub, Policy};
use crate::listen;
use crate::network::NetInput;
use crate::serial::{OpenError, Read, SerialInput};
use crate::silence::Silence;
use crate::stats::Stats;

const SIGNALS: Token = Token(0);
const METER: Token = Token(1);
/// A name lookup for a network source finished.
const RESOLVED: Token = Token(2);
const FIRST_LISTENER: usize = 3;

/// Housekeeping cadence: stalled clients, the silence check, resuming accepts.
const TICK: Duration = Duration::from_secs(1);
/// Meter bytes read per wake-up before clients get a turn.
const METER_READ_BUDGET: usize = 256 * 1024;

/// A failure that stops p1mux from starting (exit status 1). Anything that
/// goes wrong later is logged and survived instead.
#[derive(Debug)]
pub struct StartError(pub String);

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

enum Meter {
    Serial {
        input: SerialInput,
        /// Which setting to read with; with several candidates, detects.
        detector: Box<Detector>,
    },
    Network {
        input: NetInput,
        /// The first valid telegram since connecting was logged.
        announced: bool,
    },
    Demo(DemoMeter),
}

/// Everything the loop owns.
struct Gateway {
    poll: Poll,
    listeners: Vec<TcpListener>,
    signals: Signals,
    hub: Hub,
    framer: Framer,
    forward: Forward,
    meter: Meter,
    stats: Stats,
    silence: Silence,
    /// The meter had more bytes than one turn's budget.
    meter_pending: bool,
    /// The demo meter's first telegram was logged.
    announced: bool,
    next_tick: Instant,
    /// Where meter bytes are read to: allocated once, not zeroed at every
    /// wake-up (a USB adapter wakes the loop some 17 times per telegram).
    read_buf: Box<[u8]>,
}

/// Runs the gateway until SIGTERM or SIGINT. Returns an error only when it
/// cannot start.
pub fn run(config: Config) -> Result<(), StartError> {
    let now = Instant::now();
    let poll = Poll::new().map_err(|e| StartError(format!("creating the event loop: {e}")))?;
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP, SIGUSR1])
        .map_err(|e| StartError(format!("installing signal handlers: {e}")))?;
    poll.registry()
        .register(&mut signals, SIGNALS, Interest::READABLE)
        .map_err(|e| StartError(format!("watching signals: {e}")))?;

    let mut listeners = Vec::new();
    for (i, addr) in config.listen.iter().enumerate() {
        let mut listener = listen::bind(*addr).map_err(StartError)?;
        let local: SocketAddr = listener
            .local_addr()
            .map_err(|e| StartError(format!("listening on {addr}: {e}")))?;
        poll.registry()
            .register(&mut listener, Token(FIRST_LISTENER + i), Interest::READABLE)
            .map_err(|e| StartError(format!("watching {local}: {e}")))?;
        info!("listening on {local}");
        listeners.push(listener);
    }

    let (meter, parity) = match &config.source {
        Source::Demo => {
            info!("demo mode: a built-in meter sends a sample telegram every second");
            (
                Meter::Demo(DemoMeter::new(now, SystemTime::now())),
                Parity::None,
            )
        }
        Source::Serial { device, settings } => {
            let detector = Box::new(Detector::new(settings.clone(), now));
            let setting = detector.current();
            if detector.is_auto() {
                let list: Vec<String> = settings.iter().map(Setting::to_string).collect();
                info!(
                    "detecting the serial settings, trying in turn: {}",
                    list.join(", ")
                );
            }
            let mut input = SerialInput::new(device.clone(), setting, METER, now);
            match input.try_open(poll.registry(), now) {
                Err(e) if e.fatal_at_startup() => return Err(StartError(e.describe(device))),
                Err(OpenError::Missing) => info!("waiting for {} to appear", device.display()),
                _ => {}
            }
            (Meter::Serial { input, detector }, setting.parity)
        }
        Source::Network(source) => {
            let waker = Waker::new(poll.registry(), RESOLVED)
                .map_err(|e| StartError(format!("creating the event loop's waker: {e}")))?;
            info!("reading the meter from {source}");
            let input = NetInput::new(source.clone(), METER, Arc::new(waker), now);
            // Even: a source that reads a 7E1 meter as 8N1 delivers the
            // parity in bit 7, which the framer then checks and strips;
            // 7-bit bytes pass unchanged.
            (
                Meter::Network {
                    input,
                    announced: false,
                },
                Parity::Even,
            )
        }
    };

    let first_client = FIRST_LISTENER + listeners.len();
    let mut gateway = Gateway {
        poll,
        listeners,
        signals,
        hub: Hub::new(
            first_client,
            Policy {
                max_clients: config.max_clients,
                client_buffer: config.client_buffer,
                replay: config.replay,
                allow: config.allow,
            },
        ),
        framer: Framer::new(parity),
        forward: config.forward,
        meter,
        stats: Stats::new(now),
        silence: Silence::default(),
        meter_pending: false,
        announced: false,
        next_tick: now + TICK,
        read_buf: vec![0; 16 * 1024].into_boxed_slice(),
    };
    if matches!(&gateway.meter, Meter::Serial { input, .. } if input.is_open()) {
        gateway.silence.restart(now, &gateway.stats);
    }
    gateway.run()
}

impl Gateway {
    fn run(&mut self) -> Result<(), StartError> {
        let mut events = Events::with_capacity(256);
        loop {
            let now = Instant::now();
            let timeout = if self.meter_pending || self.hub.has_unread() {
                Duration::ZERO
            } else {
                self.next_deadline().saturating_duration_since(now)
            };
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // Polling itself failing leaves nothing to run on.
                return Err(StartError(format!("event loop failed: {e}")));
            }
            let now = Instant::now();
            for event in events.iter() {
                match event.token() {
                    SIGNALS => {
                        if self.on_signals(now) {
                            return Ok(());
                        }
                    }
                    METER => self.on_meter_event(now),
                    RESOLVED => {
                        if let Meter::Network { input, .. } = &mut self.meter
                            && input.on_resolved(self.poll.registry(), now)
                        {
                            self.source_connected(now);
                        }
                    }
                    token if self.hub.owns(token) => {
                        let registry = self.poll.registry();
                        let readable =
                            event.is_readable() || event.is_read_closed() || event.is_error();
                        self.hub
                            .client_event(registry, token, readable, event.is_writable(), now);
                    }
                    token => {
                        let registry = self.poll.registry();
                        if let Some(listener) = self.listeners.get(token.0 - FIRST_LISTENER) {
                            self.hub.accept(registry, listener, now);
                        }
                    }
                }
            }
            if self.meter_pending {
                self.read_meter(now);
            }
            if self.hub.has_unread() {
                self.hub.read_unread(self.poll.registry(), now);
            }
            self.on_timers(now);
        }
    }

    fn next_deadline(&self) -> Instant {
        let meter = match &self.meter {
            Meter::Demo(demo) => Some(demo.due_at()),
            Meter::Serial { input, .. } => input.retry_at(),
            Meter::Network { input, .. } => input.due_at(),
        };
        meter.map_or(self.next_tick, |at| at.min(self.next_tick))
    }

    /// Returns true when p1mux should exit.
    fn on_signals(&mut self, now: Instant) -> bool {
        let pending: Vec<i32> = self.signals.pending().collect();
        for signal in pending {
            match signal {
                SIGTERM | SIGINT => {
                    let name = if signal == SIGTERM {
                        "SIGTERM"
                    } else {
                        "SIGINT"
                    };
                    info!(
                        "{name}: closing {} clients and exiting",
                        self.hub.client_count()
                    );
                    self.hub.close_all(self.poll.registry());
                    return true;
                }
                SIGHUP => match &mut self.meter {
                    Meter::Serial { input, .. } => {
                        info!("SIGHUP: reopening {}", input.path.display());
                        input.close(self.poll.registry(), now, Duration::ZERO);
                        self.port_closed();
                    }
                    Meter::Network { input, .. } => {
                        info!("SIGHUP: reconnecting to {}", input.source);
                        input.close(self.poll.registry(), now, Duration::ZERO);
                        self.port_closed();
                    }
                    Meter::Demo(_) => info!("SIGHUP: nothing to reopen in demo mode"),
                },
                SIGUSR1 => {
                    info!(
                        "{}",
                        self.stats
                            .line(&self.hub.stats, self.hub.client_count(), now)
                    );
                }
                _ => {}
            }
        }
        false
    }

    /// Readiness on the meter's port or connection.
    fn on_meter_event(&mut self, now: Instant) {
        if let Meter::Network { input, .. } = &mut self.meter
            && !input.is_connected()
        {
            if input.on_event(self.poll.registry(), now) {
                self.source_connected(now);
            }
            return;
        }
        self.read_meter(now);
    }

    /// A network source just connected: watch it afresh and read what it
    /// may already have sent (edge-triggered polling would not say again).
    fn source_connected(&mut self, now: Instant) {
        if let Meter::Network { announced, .. } = &mut self.meter {
            *announced = false;
        }
        self.silence.restart(now, &self.stats);
        self.read_meter(now);
    }

    /// Reads the port until it has nothing more, it is lost, or the budget is spent.
    fn read_meter(&mut self, now: Instant) {
        self.meter_pending = false;
        // Taken out of self for the loop, so that feed() can borrow self.
        // Empty only inside a read already under way, which goes on reading:
        // a zero-length read would look like a hang-up.
        if self.read_buf.is_empty() {
            return;
        }
        let mut buf = std::mem::take(&mut self.read_buf);
        self.read_meter_into(&mut buf, now);
        self.read_buf = buf;
    }

    fn read_meter_into(&mut self, buf: &mut [u8], now: Instant) {
        let mut taken = 0;
        loop {
            let read = match &mut self.meter {
                Meter::Serial { input, .. } => input.read(buf),
                Meter::Network { input, .. } => input.read(buf),
                Meter::Demo(_) => return,
            };
            match read {
                Read::Data(n) => {
                    self.feed(&buf[..n], now);
                    self.detect(now);
                    taken += n;
                    if taken >= METER_READ_BUDGET {
                        self.meter_pending = true;
                        return;
                    }
                }
                Read::Empty => return,
                Read::Lost(err) => {
                    let registry = self.poll.registry();
                    match &mut self.meter {
                        Meter::Serial { input, .. } => input.lost(registry, &err, now),
                        Meter::Network { input, .. } => input.lost(registry, &err, now),
                        Meter::Demo(_) => {}
                    }
                    self.port_closed();
                    return;
                }
            }
        }
    }

    fn port_closed(&mut self) {
        // The tail of a cut-off telegram will never come.
        self.framer.reset();
        self.silence.stop();
        self.meter_pending = false;
    }

    /// Passes meter bytes through the framer and on to the clients.
    fn feed(&mut self, bytes: &[u8], now: Instant) {
        let registry = self.poll.registry();
        let hub = &mut self.hub;
        let stats = &mut self.stats;
        let silence = &mut self.silence;
        let forward = self.forward;
        let (mut detector, mut announce) = match &mut self.meter {
            Meter::Serial { detector, .. } => (Some(detector), None),
            Meter::Network { input, announced } => {
                (None, (!*announced).then_some((input, announced)))
            }
            Meter::Demo(_) => (None, None),
        };
        if let Some(detector) = detector.as_mut() {
            detector.bytes(bytes);
        }
        stats.bytes_in += bytes.len() as u64;
        if forward == Forward::Raw {
            hub.broadcast(registry, &Rc::from(bytes), now);
        }
        // In raw mode the framer still runs: its counts drive the stats,
        // detection and the silence warning.
        self.framer.push(bytes, |event| {
            if let Some(detector) = detector.as_mut() {
                detector.event(&event);
            }
            match event {
                Event::Telegram(telegram) => {
                    if let Some((input, announced)) = announce.take() {
                        *announced = true;
                        info!(
                            "receiving from {}: {} meter {}{}",
                            input.source,
                            generation(telegram.bytes, telegram.crc),
                            header(telegram.bytes),
                            if telegram.parity_in_bit7 {
                                "; the source reads a 7E1 meter as 8N1 (parity in bit 7): \
                                 p1mux checks that parity and strips it"
                            } else {
                                ""
                            }
                        );
                        // Another p1mux (or any gateway that replays) sends
                        // its last telegram on connect: after a reconnect,
                        // that is one the clients already have.
                        if hub.is_last(telegram.bytes) {
                            debug!("{}: skipped a replayed telegram", input.source);
                            return;
                        }
                    }
                    stats.telegrams += 1;
                    silence.restart(now, stats);
                    if forward != Forward::Raw {
                        let shared: Rc<[u8]> = Rc::from(telegram.bytes);
                        hub.broadcast(registry, &shared, now);
                        hub.set_last(shared, now);
                    }
                }
                Event::Rejected { reason, frame } => {
                    stats.reject(reason);
                    debug!("rejected a telegram: {}", reason.name());
                    if let (Forward::All, Some(frame)) = (forward, frame) {
                        hub.broadcast(registry, &Rc::from(frame), now);
                    }
                }
            }
        });
    }

    /// After new input or time: log a confirmed setting, or move on to the
    /// next candidate when the current one is clearly wrong.
    fn detect(&mut self, now: Instant) {
        let Meter::Serial { input, detector } = &mut self.meter else {
            return;
        };
        if let Some(found) = detector.confirm() {
            let verb = if detector.is_auto() {
                "detected"
            } else {
                "receiving"
            };
            info!("{verb}: {}", describe_lock(&found, input.setting()));
        }
        if let Step::Try { next, why } = detector.step(now) {
            info!("not {why}; trying {next}");
            if let Err(e) = input.apply(next) {
                warn!("switching {} to {next}: {e}", input.path.display());
            }
            self.framer = Framer::new(next.parity);
        }
    }

    fn on_timers(&mut self, now: Instant) {
        match &mut self.meter {
            Meter::Demo(demo) => {
                if let Some(telegram) = demo.poll(now, SystemTime::now()) {
                    if !self.announced {
                        self.announced = true;
                        info!(
                            "demo meter: a DSMR 5.0 meter {} with a gas meter, \
                             sending a telegram every second",
                            demo.ident()
                        );
                    }
                    self.feed(&telegram, now);
                }
            }
            Meter::Serial { input, detector } => {
                if input.retry_at().is_some_and(|at| now >= at)
                    && input.try_open(self.poll.registry(), now).is_ok()
                {
                    detector.restart_window(now);
                    self.framer = Framer::new(input.setting().parity);
                    self.silence.restart(now, &self.stats);
                    // Bytes may already be waiting; edge-triggered polling
                    // would not report them again.
                    self.read_meter(now);
                }
            }
            Meter::Network { input, .. } => {
                if input.on_time(self.poll.registry(), now) {
                    self.source_connected(now);
                }
            }
        }
        if now < self.next_tick {
            return;
        }
        self.next_tick = now + TICK;
        let registry = self.poll.registry();
        self.hub.drop_stalled(registry, now);
        if self.hub.resume_due(now) {
            for listener in &self.listeners {
                self.hub.accept(registry, listener, now);
            }
        }
        if let Meter::Serial { input, detector } = &mut self.meter {
            let settings = if detector.locked() {
                input.setting().to_string()
            } else {
                format!("{} (still detecting)", input.setting())
            };
            if let Some(warning) = self.silence.check(now, &self.stats, &settings) {
                warn!("{warning}");
                // The meter may have been swapped for one without CRCs.
                self.framer.reset();
                if detector.unlock(now) {
                    info!(
                        "detecting the serial settings again, starting from {}",
                        input.setting()
                    );
                }
            }
            self.detect(now);
        }
        if let Meter::Network { input, .. } = &mut self.meter {
            let source = input.source.to_string();
            if let Some(warning) = self.silence.check_network(now, &self.stats, &source) {
                warn!("{warning}; reconnecting in case the source is stuck");
                input.close(self.poll.registry(), now, Duration::ZERO);
                self.port_closed();
            }
        }
    }
}

/// Why the parity arrives in bit 7, for logs and `probe`.
pub fn parity_note(setting: Setting) -> &'static str {
    match setting.framing {
        crate::config::Framing::SevenE1 => {
            "the serial driver ignores the 7E1 setting (parity arrives in bit 7, as with ch341 \
             before Linux 4.10): p1mux checks that parity and strips it"
        }
        crate::config::Framing::EightN1 => {
            "a 7E1 meter read as 8N1 (parity arrives in bit 7): p1mux checks that parity and strips it"
        }
    }
}

/// The lock line: "DSMR 5.0 meter /ISK5\2M550T-1012 at 115200 8N1".
fn describe_lock(found: &Found, setting: Setting) -> String {
    let mut line = format!("{} meter {} at {setting}", found.generation, found.header);
    if found.parity_in_bit7 {
        line.push_str("; ");
        line.push_str(parity_note(setting));
    }
    line
}
