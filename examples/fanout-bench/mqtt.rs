//! Debian's mosquitto for the MQTT rows, as tests/mqtt starts it: a fresh
//! broker on a free loopback port per row, and mosquitto_sub on the
//! telegram and state topics, which must get every measured telegram,
//! byte for byte.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use p1mux_testkit::load::Numbered;
use p1mux_testkit::process::{self, Daemon};
use p1mux_testkit::{TempDir, net};

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

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
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

/// A mosquitto on 127.0.0.1:`port`, killed when dropped.
pub struct Broker {
    pub daemon: Daemon,
    pub port: u16,
    /// Its configuration file lives here.
    _dir: TempDir,
}

impl Broker {
    pub fn start(tools: &Tools) -> Result<Broker, String> {
        let port = net::free_port().map_err(|e| format!("picking a port: {e}"))?;
        let dir = TempDir::try_new("mosquitto").map_err(|e| format!("temp dir: {e}"))?;
        // As root, mosquitto would switch to its own user.
        let user = match nix::unistd::Uid::effective().is_root() {
            true => "user root\n",
            false => "",
        };
        let config = dir.path().join("mosquitto.conf");
        let text =
            format!("listener {port} 127.0.0.1\nallow_anonymous true\nlog_dest stderr\n{user}");
        std::fs::write(&config, text).map_err(|e| format!("writing {config:?}: {e}"))?;
        let mut cmd = Command::new(&tools.broker);
        cmd.arg("-c").arg(&config);
        process::die_with_parent(&mut cmd);
        let daemon = Daemon::start(cmd).map_err(|e| format!("starting mosquitto: {e}"))?;
        daemon.try_wait_for(" running", Duration::from_secs(10))?;
        Ok(Broker {
            daemon,
            port,
            _dir: dir,
        })
    }

    /// p1mux's options to publish to it.
    pub fn p1mux_args(&self, qos: u8) -> Vec<String> {
        let url = format!("mqtt://127.0.0.1:{}", self.port);
        let qos = qos.to_string();
        ["--mqtt", &url, "--mqtt-id", ID, "--mqtt-qos", &qos]
            .map(String::from)
            .to_vec()
    }
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
