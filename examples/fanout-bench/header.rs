//! The report's header: what was measured, on what, and how.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use p1mux_testkit::host::Pinning;
use p1mux_testkit::process;

use crate::mqtt::Tools;
use crate::{Kind, Opts, Setup};

pub fn print(
    opts: &Opts,
    machine: &str,
    servers: &[(Kind, PathBuf)],
    setups: &[Setup],
    mosquitto: Option<&Tools>,
    pinning: Option<&Pinning>,
) {
    println!("fanout-bench: pty meter -> server -> N TCP clients on 127.0.0.1");
    println!("machine: {machine}");
    for (kind, bin) in servers {
        if *kind == Kind::Before {
            let version = process::first_line(bin, &["--version"]);
            println!("before:  {} ({version})", bin.display());
        } else if *kind == Kind::P1mux {
            let git = Command::new("git")
                .args(["describe", "--always", "--dirty"])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output();
            let rev = git.map_or(String::new(), |o| {
                String::from_utf8_lossy(&o.stdout).trim().to_string()
            });
            let version = process::first_line(bin, &["--version"]);
            println!("p1mux:   {} ({version}, git {rev})", bin.display());
        } else {
            let mut options = "default options but max-connections".to_string();
            for (k, v) in &opts.ser2net_opt {
                let _ = write!(options, ", {k}: {v}");
            }
            let version = process::first_line(bin, &["-v"]);
            println!("ser2net: {} ({version}), {options}", bin.display());
        }
    }
    let line = match opts.baud {
        0 => "no pacing: a telegram per write".to_string(),
        baud => format!("{baud} baud 8N1, {}-byte chunks", opts.chunk),
    };
    println!(
        "meter:   real DSMR 5.0 telegram (Sagemcom CX2000), fresh timestamp and CRC each, {line}"
    );
    println!(
        "latency: meter's last byte written -> raw client's last byte received (kernel timestamp),"
    );
    println!("         p50/p99/max over all raw clients x telegrams");
    println!(
        "cpu:     server's schedstat time over the measured telegrams, per telegram and as % of"
    );
    println!(
        "         wall time; peak RSS: VmHWM; preempt: the server's involuntary context switches"
    );
    if setups.iter().any(|s| matches!(s, Setup::Sse(_))) {
        println!(
            "+N SSE:  p1mux --http 127.0.0.1:0 and N clients of GET /events, each checked for every"
        );
        println!(
            "         telegram's event, byte for byte (p1mux's own JSON); p50: their event latency"
        );
    }
    if let Some(tools) = mosquitto {
        let version = process::first_line(&tools.broker, &["-h"]);
        println!(
            "+MQTT Q: p1mux --mqtt-qos Q to {} ({version}) on loopback, a fresh one per row;",
            tools.broker.display()
        );
        println!(
            "         mosquitto_sub -q Q on p1mux/bench/telegram and /state checks every message"
        );
    }
    if cfg!(debug_assertions) {
        println!("NOTE:    built without --release: the client loop may lag");
    }
    match pinning {
        Some(p) => println!(
            "pinning: server on CPU {}, bench (and mosquitto) on CPUs {:?}",
            p.server, p.bench
        ),
        None => println!("pinning: none"),
    }
    println!();
}
