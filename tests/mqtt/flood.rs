//! Issue 18 item 4: anyone who may publish to the broker floods
//! `homeassistant/status` with "online", through a real mosquitto. p1mux
//! must re-announce the meter at most once per interval, stay small and
//! quiet, keep the raw clients on time, and still end on SIGTERM.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::broker::{Sub, Tools};
use crate::common::mosquitto::Broker;
use crate::common::*;
use crate::judge::Judge;

/// "online" messages per QoS.
const FLOOD: usize = 20_000;

/// mosquitto_pub publishing each line of its input: killed when dropped.
struct Flooder(Child);

impl Flooder {
    fn start(tools: &Tools, port: u16, qos: &str) -> Flooder {
        let mut child = Command::new(&tools.publish)
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(["-t", "homeassistant/status", "-q", qos, "-l"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting mosquitto_pub");
        let mut stdin = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            let lines = "online\n".repeat(FLOOD);
            let _ = stdin.write_all(lines.as_bytes());
        });
        Flooder(child)
    }

    fn done(&mut self) -> bool {
        self.0.try_wait().ok().flatten().is_some()
    }
}

impl Drop for Flooder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn status_flood(tools: &Tools) {
    let dir = TempDir::new("mqtt-flood");
    let port = net::free_port().expect("a free port");
    // Without log_type all: mosquitto would log every message.
    let broker =
        Broker::start(&tools.broker, &dir.0, port, "", |_| {}).unwrap_or_else(|e| panic!("{e}"));
    let ha = Sub::start(tools, broker.port, &["homeassistant/device/#"], &[]);
    let url = format!("mqtt://127.0.0.1:{port}");
    let mut judge = Judge::start(&["--mqtt", &url, "--mqtt-id", "m"]);
    judge.logged("mqtt: connected to");
    judge.telegram();
    judge.logged("announced the meter");
    let topic = "homeassistant/device/p1mux_m/config";
    ha.next(topic);
    let before = judge.lines().0;
    for qos in ["0", "1"] {
        let mut flooder = Flooder::start(tools, port, qos);
        while !flooder.done() {
            judge.telegram();
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    // The last announcement, coalesced, may come a little after the flood.
    judge.telegrams_for(Duration::from_secs(6), Duration::from_millis(500));
    let mut announced = 0;
    while ha.next_within(topic, Duration::from_secs(1)).is_some() {
        announced += 1;
    }
    let lines = judge.lines().0 - before;
    assert!(
        judge
            .p1mux
            .log_text()
            .contains("Home Assistant came online"),
        "the flood never reached p1mux"
    );
    let figures = judge.terminate();
    eprintln!(
        "status flood, {FLOOD} at QoS 0 and {FLOOD} at QoS 1: {announced} announcements, \
         {lines} log lines during it, {figures}"
    );
    assert!(
        (1..=20).contains(&announced),
        "{announced} announcements; {figures}"
    );
    assert!(lines < 100, "{lines} log lines; {figures}");
}
