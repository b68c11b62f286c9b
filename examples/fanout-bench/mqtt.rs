//! Debian's mosquitto for the MQTT rows, started as tests/mqtt starts it
//! (p1mux_testkit::mosquitto): a fresh broker on a free loopback port per
//! row, and mosquitto_sub on the telegram and state topics, which must get
//! every measured telegram, byte for byte.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use p1mux_testkit::load::Numbered;
pub use p1mux_testkit::mosquitto::Broker;
use p1mux_testkit::process::{self, Daemon, which};

use crate::expect::Expected;
use crate::report::Extra;

/// The topic prefix and meter id p1mux is given: `p1mux/bench/...`.
pub const ID: &str = "bench";

/// mosquitto, mosquitto_sub and coreutils' stdbuf (mosquitto_sub's output
/// into a pipe is block-buffered: stdbuf makes it a line at a time).
pub struct Tools {
    pub broker: PathBuf,
    sub: PathBuf,
    stdbuf: PathBuf,
}

/// The tools, or what is missing.
pub fn find(broker: Option<&Path>) -> Result<Tools, String> {
    let find = |name: &str| which(name).ok_or_else(|| format!("{name} is not installed"));
    Ok(Tools {
        broker: match broker {
            Some(b) if b.is_file() => b.to_path_buf(),
            Some(b) => return Err(format!("{} is not a file", b.display())),
            None => find("mosquitto")?,
        },
        sub: find("mosquitto_sub")?,
        stdbuf: find("stdbuf")?,
    })
}

/// A fresh mosquitto on a free loopback port, killed when dropped, and
/// with the bench if it is killed.
pub fn start_broker(tools: &Tools) -> Result<Broker, String> {
    Broker::start_fresh(&tools.broker, process::die_with_parent)
}

/// p1mux's options to publish to `broker`.
pub fn p1mux_args(broker: &Broker, qos: u8) -> Vec<String> {
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    let qos = qos.to_string();
    ["--mqtt", &url, "--mqtt-id", ID, "--mqtt-qos", &qos]
        .map(String::from)
        .to_vec()
}

/// mosquitto_sub on the meter's telegram and state topics.
pub struct Subscriber {
    daemon: Daemon,
}

impl Subscriber {
    /// Subscribes at `qos` and waits for the broker's SUBACK.
    pub fn start(tools: &Tools, port: u16, qos: u8) -> Result<Subscriber, String> {
        let mut cmd = Command::new(&tools.stdbuf);
        cmd.arg("-oL").arg(&tools.sub);
        cmd.args(["-d", "-h", "127.0.0.1", "-p", &port.to_string()]);
        cmd.args(["-q", &qos.to_string(), "-F", "MSG %t %x"]);
        for topic in ["telegram", "state"] {
            cmd.args(["-t", &format!("p1mux/{ID}/{topic}")]);
        }
        process::die_with_parent(&mut cmd);
        let daemon = Daemon::start(cmd).map_err(|e| format!("starting mosquitto_sub: {e}"))?;
        daemon.try_wait_for("Subscribed (mid", Duration::from_secs(10))?;
        Ok(Subscriber { daemon })
    }

    /// Reads messages until both topics have had every measured telegram
    /// (`first..first + count`), or none came for `grace`.
    pub fn collect(
        &self,
        (tg, expected): (&Numbered, &Expected),
        first: usize,
        count: usize,
        grace: Duration,
        give_up: Instant,
    ) -> Extra {
        // Per measured telegram: has its telegram message, its state message.
        let (mut telegrams, mut states) = (vec![false; count], vec![false; count]);
        let mut extra = Extra::new("mqtt", 2 * count);
        let telegram_topic = format!("p1mux/{ID}/telegram ");
        let state_topic = format!("p1mux/{ID}/state ");
        while extra.delivered < 2 * count && Instant::now() < give_up {
            let Some(line) = self.daemon.next_line(grace) else {
                break; // silence for `grace`, or mosquitto_sub exited
            };
            let Some(rest) = line.strip_prefix("MSG ") else {
                continue; // -d's protocol lines
            };
            let (slots, payload, is_telegram) =
                if let Some(hex) = rest.strip_prefix(&telegram_topic) {
                    (&mut telegrams, unhex(hex), true)
                } else if let Some(hex) = rest.strip_prefix(&state_topic) {
                    (&mut states, unhex(hex), false)
                } else {
                    continue;
                };
            let i = match is_telegram {
                true => tg.identify(&payload),
                false => expected
                    .index(&payload)
                    .filter(|&i| expected.is_state(i, &payload)),
            };
            match i.map(|i| i.checked_sub(first)) {
                None => extra.corrupt += 1,
                Some(None) => {} // a warm-up telegram
                Some(Some(k)) if k < count && !slots[k] => {
                    slots[k] = true;
                    extra.delivered += 1;
                }
                Some(Some(_)) => extra.disorder += 1,
            }
        }
        extra
    }
}

fn unhex(hex: &str) -> Vec<u8> {
    let digit = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
    (0..hex.len() / 2).map_while(|i| digit(2 * i)).collect()
}
