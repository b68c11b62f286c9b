//! The command line.

use std::path::PathBuf;
use std::str::FromStr;

use argh::FromArgs;

#[derive(FromArgs)]
/// fanout-bench: p1mux vs ser2net, end to end, through a pty meter and N TCP
/// clients; and what p1mux's HTTP and MQTT outputs cost those clients.
pub struct Opts {
    /// client counts, comma-separated (default 1,10,100,1000)
    #[argh(option, default = "List(vec![1, 10, 100, 1000])")]
    pub clients: List<usize>,
    /// telegrams per row in mode (a), one a second (default 10)
    #[argh(option, default = "10")]
    pub telegrams: usize,
    /// telegrams per row in mode (b), back to back (default 100)
    #[argh(option, default = "100")]
    pub burst: usize,
    /// modes: a, b or a,b (default a,b)
    #[argh(option, default = "List(vec![Mode::Interval, Mode::Burst])")]
    pub modes: List<Mode>,
    /// servers: p1mux, ser2net or both (default p1mux,ser2net)
    #[argh(option, default = "List(vec![Kind::P1mux, Kind::Ser2net])")]
    pub servers: List<Kind>,
    /// meter line rate (default 115200; 0: no pacing, a telegram per write)
    #[argh(option, default = "115_200")]
    pub baud: u32,
    /// bytes per pty write, as a USB adapter delivers them (default 64)
    #[argh(option, default = "64")]
    pub chunk: usize,
    /// measure this p1mux binary instead of building one
    #[argh(option)]
    pub p1mux: Option<PathBuf>,
    /// also measure this p1mux binary (e.g. one built from before a
    /// change) as server "before", its rows taking turns with p1mux's, and
    /// print the ratio p1mux/before
    #[argh(option)]
    pub baseline: Option<PathBuf>,
    /// compare with this ser2net (default: ser2net in PATH or /usr/sbin)
    #[argh(option)]
    pub ser2net: Option<PathBuf>,
    /// add KEY=VALUE to ser2net's connection options, e.g.
    /// chardelay=false (repeatable)
    #[argh(option, from_str_fn(key_value))]
    pub ser2net_opt: Vec<(String, String)>,
    /// beside the raw clients, also p1mux with --http and this many
    /// server-sent-event clients on /events, a row each (e.g. 10; 0: --http
    /// and no stream)
    #[argh(option, default = "List(Vec::new())")]
    pub sse: List<usize>,
    /// beside the raw clients, also p1mux publishing to a mosquitto on
    /// loopback, a row each: qos0, qos1, qos0,qos1 (default off)
    #[argh(option, default = "List(Vec::new())")]
    pub mqtt: List<Qos>,
    /// the mosquitto to publish to (default: mosquitto in PATH or /usr/sbin)
    #[argh(option)]
    pub mosquitto: Option<PathBuf>,
    /// measure every row this many times, the rows taking turns, and report
    /// the median of each figure (default 1)
    #[argh(option, default = "1")]
    pub rounds: usize,
    /// don't pin the server to one CPU and the bench to the others
    #[argh(switch)]
    pub no_pin: bool,
    /// per telegram, print (to stderr) the fastest, median and slowest
    /// client: a slow fan-out ramps from client 0 to N-1, a stalled server
    /// or meter delays them all
    #[argh(switch)]
    pub detail: bool,
    /// exit 1 when a target is missed or a telegram was not delivered
    #[argh(switch)]
    pub check: bool,
}

/// A comma-separated list on the command line.
pub struct List<T>(pub Vec<T>);

impl<T: FromStr<Err: std::fmt::Display>> FromStr for List<T> {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let item = |v: &str| v.trim().parse().map_err(|e| format!("{v:?}: {e}"));
        s.split(',').map(item).collect::<Result<_, _>>().map(List)
    }
}

fn key_value(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').ok_or(format!("KEY=VALUE, not {s:?}"))?;
    Ok((k.trim().to_string(), v.trim().to_string()))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// (a): one telegram a second.
    Interval,
    /// (b): telegrams back to back.
    Burst,
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::Interval => "(a)",
            Mode::Burst => "(b)",
        }
    }
}

impl FromStr for Mode {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [("a", Mode::Interval), ("b", Mode::Burst)]
            .into_iter()
            .find_map(|(name, mode)| (name == s).then_some(mode))
            .ok_or("modes are a and b")
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    P1mux,
    Ser2net,
    /// `--baseline`: another p1mux binary, run exactly as p1mux is.
    Before,
}

impl FromStr for Kind {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Kind::P1mux, Kind::Ser2net]
            .into_iter()
            .find(|kind| kind.name() == s)
            .ok_or("servers are p1mux and ser2net")
    }
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::P1mux => "p1mux",
            Kind::Ser2net => "ser2net",
            Kind::Before => "before",
        }
    }

    /// A p1mux binary: started and measured as p1mux.
    pub fn is_p1mux(self) -> bool {
        matches!(self, Kind::P1mux | Kind::Before)
    }
}

/// `--mqtt`: a QoS level to publish at, or off.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Qos(pub Option<u8>);

impl FromStr for Qos {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" => Ok(Qos(None)),
            "qos0" | "0" => Ok(Qos(Some(0))),
            "qos1" | "1" => Ok(Qos(Some(1))),
            _ => Err("MQTT levels are qos0, qos1 and off"),
        }
    }
}

/// What p1mux serves beside the raw TCP clients in a row.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Setup {
    /// Raw clients only: the figures the others are compared with.
    Raw,
    /// `--http`, and this many event-stream clients.
    Sse(usize),
    /// `--mqtt` to a local mosquitto, at this QoS.
    Mqtt(u8),
}

impl Setup {
    /// The rows' setups: raw first, then what `--sse` and `--mqtt` ask for.
    pub fn all(opts: &Opts) -> Vec<Setup> {
        let sse = opts.sse.0.iter().map(|&n| Setup::Sse(n));
        let mqtt = opts.mqtt.0.iter().filter_map(|q| q.0).map(Setup::Mqtt);
        let mut all = vec![Setup::Raw];
        for setup in sse.chain(mqtt) {
            if !all.contains(&setup) {
                all.push(setup);
            }
        }
        all
    }

    /// The server column's label: `p1mux`, `p1mux +10 SSE`, `p1mux +MQTT 1`.
    pub fn label(self, kind: Kind) -> String {
        match self {
            Setup::Raw => kind.name().to_string(),
            Setup::Sse(0) => format!("{} +HTTP", kind.name()),
            Setup::Sse(n) => format!("{} +{n} SSE", kind.name()),
            Setup::Mqtt(q) => format!("{} +MQTT {q}", kind.name()),
        }
    }
}
