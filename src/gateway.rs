//! The event loop: one thread, one `mio::Poll`. It owns the tokens and the
//! clock and dispatches: readiness to the source or to the output that owns
//! the token, bytes read to the pipeline, what the pipeline saw to the
//! source and what it sends to the outputs, signals to their handlers. It
//! knows no kind of source or output, and builds none ([`crate::outputs`]).

use std::io;
use std::time::{Duration, Instant};

use log::info;
use mio::event::Event;
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook_mio::v1_0::Signals;

use crate::config::Config;
use crate::encrypted::key;
use crate::error::StartError;
use crate::health::Status;
use crate::output::{Context, Delivery, Output, TOKENS_PER_OUTPUT};
use crate::outputs;
use crate::pipeline::{Pipeline, Seen, Sink};
use crate::source::{self, AfterSilence, Change, Input, Read, SOURCE_TOKENS, Source};

const SIGNALS: Token = Token(0);
/// The source's tokens start here.
const FIRST_SOURCE: usize = 1;
/// Output `i` owns the tokens from `FIRST_OUTPUT + i * TOKENS_PER_OUTPUT`.
const FIRST_OUTPUT: usize = TOKENS_PER_OUTPUT;
const _: () = assert!(FIRST_SOURCE + SOURCE_TOKENS <= FIRST_OUTPUT);

/// Housekeeping cadence: stalled clients, the silence check, resuming accepts.
const TICK: Duration = Duration::from_secs(1);
/// Meter bytes read per wake-up before clients get a turn.
const SOURCE_READ_BUDGET: usize = 256 * 1024;

/// The poll and what it watches; the rest is [`Core`]'s, so that one
/// [`Context`] (which borrows the poll's registry) serves a whole turn.
struct Gateway {
    poll: Poll,
    signals: Signals,
    core: Core,
}

/// Everything the loop dispatches to.
struct Core {
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
pub fn run(mut config: Config) -> Result<(), StartError> {
    outputs::prepare(&mut config)?;
    let now = Instant::now();
    let credentials = key::credentials_directory();
    let keys = config
        .keys
        .load(credentials.as_deref())
        .map_err(StartError::Keys)?;
    keys.iter().for_each(key::log_loaded);
    let poll = Poll::new().map_err(|e| format!("creating the event loop: {e}"))?;
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP, SIGUSR1])
        .map_err(|e| format!("installing signal handlers: {e}"))?;
    poll.registry()
        .register(&mut signals, SIGNALS, Interest::READABLE)
        .map_err(|e| format!("watching signals: {e}"))?;
    let cx = Context {
        registry: poll.registry(),
        now,
    };
    let outputs = outputs::build(&config, &cx, FIRST_OUTPUT)?;
    let source = source::open(&config.source, poll.registry(), FIRST_SOURCE, now)?;
    let mut pipeline = Pipeline::new(config.forward, source.parity(), keys, now);
    if source.is_up() {
        pipeline.source_up(source.parity(), source.replays_on_connect(), now);
    }
    let core = Core {
        source,
        pipeline,
        outputs,
        source_pending: false,
        next_tick: now + TICK,
        read_buf: vec![0; 16 * 1024].into_boxed_slice(),
    };
    Gateway {
        poll,
        signals,
        core,
    }
    .run()
}

impl Gateway {
    fn run(&mut self) -> Result<(), StartError> {
        let mut events = Events::with_capacity(256);
        loop {
            let now = Instant::now();
            let timeout = if self.core.busy() {
                Duration::ZERO
            } else {
                self.core.next_deadline().saturating_duration_since(now)
            };
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // Polling itself failing leaves nothing to run on.
                return Err(StartError::EventLoop(e));
            }
            let cx = Context {
                registry: self.poll.registry(),
                now: Instant::now(),
            };
            for event in events.iter() {
                if event.token() == SIGNALS {
                    let signals: Vec<i32> = self.signals.pending().collect();
                    if self.core.on_signals(&signals, &cx) {
                        return Ok(());
                    }
                } else {
                    self.core.on_ready(event, &cx);
                }
            }
            self.core.after_events(&cx);
        }
    }
}

impl Core {
    /// Work is left over from this turn: poll again without sleeping.
    fn busy(&self) -> bool {
        self.source_pending || self.outputs.iter().any(|o| o.has_pending())
    }

    fn next_deadline(&self) -> Instant {
        self.outputs
            .iter()
            .filter_map(|o| o.due_at())
            .chain(self.source.due_at())
            .fold(self.next_tick, Instant::min)
    }

    /// Readiness on a source's or an output's token.
    fn on_ready(&mut self, event: &Event, cx: &Context) {
        match event.token() {
            Token(t) if (FIRST_SOURCE..FIRST_SOURCE + SOURCE_TOKENS).contains(&t) => {
                let change = self.source.on_ready(cx.registry, Token(t), cx.now);
                self.source_changed(change, cx);
            }
            Token(t) => {
                let i = (t - FIRST_OUTPUT) / TOKENS_PER_OUTPUT;
                if let Some(output) = self.outputs.get_mut(i) {
                    output.on_event(cx, event);
                }
            }
        }
    }

    /// After a batch of events: left-over work, then timers.
    fn after_events(&mut self, cx: &Context) {
        if self.source_pending {
            self.read_source(cx);
        }
        for output in &mut self.outputs {
            if output.has_pending() {
                output.on_pending(cx);
            }
        }
        self.on_timers(cx);
    }

    /// Returns true when p1mux should exit.
    fn on_signals(&mut self, signals: &[i32], cx: &Context) -> bool {
        for &signal in signals {
            match signal {
                SIGTERM | SIGINT => {
                    let name = if signal == SIGTERM {
                        "SIGTERM"
                    } else {
                        "SIGINT"
                    };
                    let closing: Vec<String> =
                        self.outputs.iter_mut().map(|o| o.shutdown(cx)).collect();
                    info!("{name}: {} and exiting", closing.join(", "));
                    return true;
                }
                SIGHUP => {
                    self.source.reopen(cx.registry, cx.now);
                    self.pipeline.source_down();
                    self.source_pending = false;
                    self.tell_status(cx);
                }
                SIGUSR1 => {
                    let parts: Vec<String> = self.outputs.iter().map(|o| o.summary()).collect();
                    info!("{}", self.pipeline.stats().line(&parts.join(", "), cx.now));
                }
                _ => {}
            }
        }
        false
    }

    fn source_changed(&mut self, change: Change, cx: &Context) {
        match change {
            Change::Nothing => {}
            Change::Readable => self.read_source(cx),
            Change::Up => {
                let source = &self.source;
                self.pipeline
                    .source_up(source.parity(), source.replays_on_connect(), cx.now);
                self.tell_status(cx);
                self.read_source(cx);
            }
        }
    }

    /// Hands every output a fresh snapshot of the gateway's state.
    fn tell_status(&mut self, cx: &Context) {
        let stats = self.pipeline.stats();
        let status = Status {
            now: cx.now,
            started: stats.started(),
            version: env!("CARGO_PKG_VERSION"),
            source: self.source.status(),
            stats: stats.clone(),
            last_telegram: self.pipeline.last_telegram(),
            outputs: self.outputs.iter().map(|o| o.status()).collect(),
        };
        for output in &mut self.outputs {
            output.observe(cx, &status);
        }
    }

    /// Reads the source until it has nothing more, it is lost, or the budget is spent.
    fn read_source(&mut self, cx: &Context) {
        self.source_pending = false;
        let mut taken = 0;
        loop {
            match self.source.read(&mut self.read_buf) {
                Read::Data(n) => {
                    let mut dispatch = Dispatch {
                        source: &mut *self.source,
                        outputs: &mut self.outputs,
                        cx,
                    };
                    self.pipeline
                        .feed(&self.read_buf[..n], cx.now, &mut dispatch);
                    self.settle(cx.now);
                    taken += n;
                    if taken >= SOURCE_READ_BUDGET {
                        self.source_pending = true;
                        return;
                    }
                }
                Read::Empty => return,
                Read::Lost(err) => {
                    self.source.lost(cx.registry, &err, cx.now);
                    self.pipeline.source_down();
                    self.tell_status(cx);
                    return;
                }
            }
        }
    }

    /// After new input or time: the source may switch its setting, and
    /// framing goes on with the new parity if it did.
    fn settle(&mut self, now: Instant) {
        if let Some(parity) = self.source.settle(now) {
            self.pipeline.reframe(parity);
        }
    }

    fn on_timers(&mut self, cx: &Context) {
        let now = cx.now;
        if self.source.due_at().is_some_and(|at| now >= at) {
            let change = self.source.on_time(cx.registry, now);
            self.source_changed(change, cx);
        }
        let tick = now >= self.next_tick;
        if tick {
            self.next_tick = now + TICK;
        }
        for output in &mut self.outputs {
            if tick || output.due_at().is_some_and(|at| now >= at) {
                output.on_time(cx);
            }
        }
        if tick {
            // A source that stays quiet too long is told so.
            if let Some(quiet) = self.pipeline.tick(now) {
                match self.source.silent(cx.registry, now, &quiet) {
                    AfterSilence::Reset => self.pipeline.forget_partial(),
                    AfterSilence::Closed => self.pipeline.source_down(),
                }
            }
            self.settle(now);
            self.tell_status(cx);
        }
    }
}

/// The loop's [`Sink`]: what the pipeline saw goes to the source, what it
/// sends to every output.
struct Dispatch<'a> {
    source: &'a mut dyn Input,
    outputs: &'a mut [Box<dyn Output>],
    cx: &'a Context<'a>,
}

impl Sink for Dispatch<'_> {
    fn seen(&mut self, seen: Seen<'_>) {
        if let Some(line) = self.source.saw(&seen) {
            info!("{line}");
        }
    }

    fn deliver(&mut self, delivery: Delivery<'_>) {
        for output in self.outputs.iter_mut() {
            output.deliver(self.cx, delivery);
        }
    }
}
