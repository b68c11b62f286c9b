//! The event loop: one thread, one `mio::Poll`. It owns the tokens and the
//! clock and dispatches: readiness to the source or to the output that owns
//! the token, bytes read to the pipeline, signals to their handlers. It
//! knows no kind of source or output.

use std::io;
use std::time::{Duration, Instant};

use log::{info, warn};
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook_mio::v1_0::Signals;

use crate::config::Config;
use crate::encrypted::Authentication;
use crate::encrypted::key::{self, Keys};
use crate::error::StartError;
use crate::health::Status;
use crate::http::Http;
use crate::hub::{Hub, Policy};
use crate::mdns::Mdns;
use crate::mqtt::MqttOutput;
use crate::output::{Context, Output, TOKENS_PER_OUTPUT};
use crate::pipeline::Pipeline;
use crate::source::{self, Change, Read, SOURCE_TOKENS, Source};

const SIGNALS: Token = Token(0);
/// The source's tokens start here.
const FIRST_SOURCE: usize = 1;
/// Output `i` owns the tokens from `FIRST_OUTPUT + i * TOKENS_PER_OUTPUT`.
const FIRST_OUTPUT: usize = TOKENS_PER_OUTPUT;

/// Housekeeping cadence: stalled clients, the silence check, resuming accepts.
const TICK: Duration = Duration::from_secs(1);
/// Meter bytes read per wake-up before clients get a turn.
const SOURCE_READ_BUDGET: usize = 256 * 1024;

/// Everything the loop owns.
struct Gateway {
    poll: Poll,
    signals: Signals,
    source: Source,
    pipeline: Pipeline,
    outputs: Vec<Box<dyn Output>>,
    /// The source had more bytes than one turn's budget.
    source_pending: bool,
    next_tick: Instant,
    /// Where source bytes are read to: allocated once, not zeroed at every
    /// wake-up (a USB adapter wakes the loop some 17 times per telegram).
    read_buf: Box<[u8]>,
}

/// Runs the gateway until SIGTERM or SIGINT. Returns an error only when it
/// cannot start.
pub fn run(config: Config) -> Result<(), StartError> {
    let now = Instant::now();
    let keys = load_keys(&config)?;
    let poll = Poll::new().map_err(|e| format!("creating the event loop: {e}"))?;
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP, SIGUSR1])
        .map_err(|e| format!("installing signal handlers: {e}"))?;
    poll.registry()
        .register(&mut signals, SIGNALS, Interest::READABLE)
        .map_err(|e| format!("watching signals: {e}"))?;

    let policy = Policy {
        max_clients: config.max_clients,
        client_buffer: config.client_buffer,
        replay: config.replay,
        allow: config.allow.clone(),
    };
    let hub = Hub::bind(&config.listen, policy, poll.registry(), FIRST_OUTPUT)?;
    let mut outputs: Vec<Box<dyn Output>> = vec![Box::new(hub)];
    if let Some(mqtt) = &config.mqtt {
        let first = FIRST_OUTPUT + outputs.len() * TOKENS_PER_OUTPUT;
        outputs.push(Box::new(MqttOutput::new(
            mqtt.clone(),
            poll.registry(),
            first,
            now,
        )?));
    }
    let first = FIRST_OUTPUT + outputs.len() * TOKENS_PER_OUTPUT;
    if let Some(http) = Http::bind(&config, poll.registry(), first)? {
        let port = http.port();
        outputs.push(Box::new(http));
        if config.mdns {
            let first = FIRST_OUTPUT + outputs.len() * TOKENS_PER_OUTPUT;
            let source = crate::homewizard::identity::source_name(&config.source);
            let mdns = Mdns::open(&source, port, poll.registry(), first, now)?;
            outputs.push(Box::new(mdns));
        }
    }
    const { assert!(FIRST_SOURCE + SOURCE_TOKENS <= FIRST_OUTPUT) };
    let source = source::open(&config.source, poll.registry(), FIRST_SOURCE, now)?;
    let mut pipeline = Pipeline::new(config.forward, source.parity(), keys, now);
    if source.is_up() {
        pipeline.source_up(source.parity(), now);
    }
    Gateway {
        poll,
        signals,
        source,
        pipeline,
        outputs,
        source_pending: false,
        next_tick: now + TICK,
        read_buf: vec![0; 16 * 1024].into_boxed_slice(),
    }
    .run()
}

/// The keys of an encrypted meter (`--key-file`, `--auth-key-file`, or
/// systemd's credentials), if any; a key file that cannot be read or is no
/// key stops p1mux from starting. Logs where the key came from, never it.
fn load_keys(config: &Config) -> Result<Option<Keys>, StartError> {
    let credentials = key::credentials_directory();
    let keys = key::load(
        config.keys.key_file.as_deref(),
        config.keys.auth_key_file.as_deref(),
        credentials.as_deref(),
    )
    .map_err(|e| StartError(e.to_string()))?;
    if let Some(keys) = &keys {
        keys.warnings.iter().for_each(|w| warn!("{w}"));
        let auth = match keys.authentication {
            Authentication::Default => "",
            Authentication::Given(_) => " and the authentication key given",
        };
        info!(
            "encrypted frames will be decrypted with the key in {}{auth}",
            keys.key_path.display()
        );
    }
    Ok(keys)
}

impl Gateway {
    fn run(&mut self) -> Result<(), StartError> {
        let mut events = Events::with_capacity(256);
        loop {
            let now = Instant::now();
            let busy = self.source_pending || self.outputs.iter().any(|o| o.has_pending());
            let timeout = if busy {
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
                    Token(t) if (FIRST_SOURCE..FIRST_SOURCE + SOURCE_TOKENS).contains(&t) => {
                        let change = self.source.on_ready(self.poll.registry(), Token(t), now);
                        self.source_changed(change, now);
                    }
                    Token(t) => {
                        let cx = Context {
                            registry: self.poll.registry(),
                            now,
                        };
                        if let Some(output) =
                            self.outputs.get_mut((t - FIRST_OUTPUT) / TOKENS_PER_OUTPUT)
                        {
                            output.on_event(&cx, event);
                        }
                    }
                }
            }
            if self.source_pending {
                self.read_source(now);
            }
            let cx = Context {
                registry: self.poll.registry(),
                now,
            };
            for output in &mut self.outputs {
                if output.has_pending() {
                    output.on_pending(&cx);
                }
            }
            self.on_timers(now);
        }
    }

    fn next_deadline(&self) -> Instant {
        self.outputs
            .iter()
            .filter_map(|o| o.due_at())
            .chain(self.source.due_at())
            .fold(self.next_tick, Instant::min)
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
                    let cx = Context {
                        registry: self.poll.registry(),
                        now,
                    };
                    let closing: Vec<String> =
                        self.outputs.iter_mut().map(|o| o.shutdown(&cx)).collect();
                    info!("{name}: {} and exiting", closing.join(", "));
                    return true;
                }
                SIGHUP => {
                    self.source.reopen(self.poll.registry(), now);
                    self.pipeline.source_down();
                    self.source_pending = false;
                    self.tell_status(now);
                }
                SIGUSR1 => {
                    let parts: Vec<String> = self.outputs.iter().map(|o| o.summary()).collect();
                    info!("{}", self.pipeline.stats.line(&parts.join(", "), now));
                }
                _ => {}
            }
        }
        false
    }

    fn source_changed(&mut self, change: Change, now: Instant) {
        match change {
            Change::Nothing => {}
            Change::Readable => self.read_source(now),
            Change::Up => {
                self.pipeline.source_up(self.source.parity(), now);
                self.tell_status(now);
                self.read_source(now);
            }
        }
    }

    /// Hands every output a fresh snapshot of the gateway's state.
    fn tell_status(&mut self, now: Instant) {
        let status = Status {
            now,
            started: self.pipeline.stats.started(),
            version: env!("CARGO_PKG_VERSION"),
            source: self.source.status(),
            stats: self.pipeline.stats.clone(),
            last_telegram: self.pipeline.last_telegram,
            outputs: self.outputs.iter().map(|o| o.status()).collect(),
        };
        let cx = Context {
            registry: self.poll.registry(),
            now,
        };
        for output in &mut self.outputs {
            output.observe(&cx, &status);
        }
    }

    /// Reads the source until it has nothing more, it is lost, or the budget is spent.
    fn read_source(&mut self, now: Instant) {
        self.source_pending = false;
        let cx = Context {
            registry: self.poll.registry(),
            now,
        };
        let mut taken = 0;
        loop {
            match self.source.read(&mut self.read_buf) {
                Read::Data(n) => {
                    self.pipeline.feed(
                        &self.read_buf[..n],
                        &mut *self.source,
                        &mut self.outputs,
                        &cx,
                    );
                    self.pipeline.settle(&mut *self.source, now);
                    taken += n;
                    if taken >= SOURCE_READ_BUDGET {
                        self.source_pending = true;
                        return;
                    }
                }
                Read::Empty => return,
                Read::Lost(err) => {
                    self.source.lost(cx.registry, &err, now);
                    self.pipeline.source_down();
                    self.tell_status(now);
                    return;
                }
            }
        }
    }

    fn on_timers(&mut self, now: Instant) {
        if self.source.due_at().is_some_and(|at| now >= at) {
            let change = self.source.on_time(self.poll.registry(), now);
            self.source_changed(change, now);
        }
        let tick = now >= self.next_tick;
        if tick {
            self.next_tick = now + TICK;
        }
        let cx = Context {
            registry: self.poll.registry(),
            now,
        };
        for output in &mut self.outputs {
            if tick || output.due_at().is_some_and(|at| now >= at) {
                output.on_time(&cx);
            }
        }
        if tick {
            self.pipeline
                .tick(&mut *self.source, self.poll.registry(), now);
            self.tell_status(now);
        }
    }
}
