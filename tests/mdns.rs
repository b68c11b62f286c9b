//! Discovery as Home Assistant does it: python-zeroconf browsing
//! `_hwenergy._tcp` finds p1mux with all five TXT keys Home Assistant
//! requires, within 2 s of the first telegram, over IPv4 and IPv6, also
//! with avahi-daemon running beside p1mux on port 5353; sees the new
//! address when one is added, and the goodbye at exit; and
//! python-homewizard-energy, pointed at the discovered address, reads the
//! serial that was announced (Home Assistant's next step).
//!
//! On a network of its own: two network namespaces joined by a veth pair
//! (root only), never the host's network. Needs a Python with zeroconf and
//! python-homewizard-energy (`P1MUX_PYTHON`), and avahi-daemon for the
//! one test; see tests/common/external.rs for what happens without them.

mod common;
#[path = "common/dsmr_parser.rs"]
mod dsmr_parser;
#[path = "mdns/lan.rs"]
mod lan;
#[path = "homewizard/python.rs"]
mod python;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use common::external::{Tool, needs, run};
use common::*;
use lan::Lan;
use python::Python;
use serde_json::Value;

const BROWSER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/consumers/zeroconf_browser.py"
);
const READER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/consumers/homewizard_reader.py"
);
/// Home Assistant aborts discovery without any of these.
const TXT_KEYS: [&str; 5] = [
    "api_enabled",
    "path",
    "product_name",
    "product_type",
    "serial",
];

/// A Python with zeroconf and python-homewizard-energy, and a network of
/// namespaces we may make.
fn find() -> Result<Python, String> {
    let python = python::find(
        "import zeroconf, homewizard_energy",
        "zeroconf and homewizard_energy",
    )?;
    Lan::new().map(|_| python)
}

static ZEROCONF: Tool<Python> = Tool::new(
    "python-zeroconf and python-homewizard-energy, as root (network namespaces)",
    "P1MUX_REQUIRE_ZEROCONF",
    python::INSTALL,
    find,
);

static AVAHI: Tool<(Python, PathBuf)> = Tool::new(
    "avahi-daemon, python-zeroconf and python-homewizard-energy, as root",
    "P1MUX_REQUIRE_AVAHI",
    "apt-get install avahi-daemon",
    || {
        let python = find()?;
        let avahi = PathBuf::from("/usr/sbin/avahi-daemon");
        match avahi.exists() {
            true => Ok((python, avahi)),
            false => Err(format!("no {}", avahi.display())),
        }
    },
);

/// A browser's next event of `kind` within `patience` of `since`, and
/// how long after `since` it came.
fn event(browser: &Daemon, kind: &str, since: Instant, patience: Duration) -> (Value, Duration) {
    let left = patience.saturating_sub(since.elapsed());
    let line = browser
        .try_wait_for(&format!(r#""event": "{kind}""#), left)
        .unwrap_or_else(|e| panic!("no {kind} within {patience:?}: {e}"));
    (serde_json::from_str(&line).unwrap(), since.elapsed())
}

/// The whole story on `lan`: p1mux (on a pty) in namespace A, a browser
/// (`v6`: over IPv6 only) in B.
fn discover(python: &Python, lan: &Lan, v6: bool) {
    let mut args = vec![BROWSER];
    if v6 {
        args.push("v6");
    }
    let browser = lan.spawn_b(&python.0, &args);
    browser.wait_for("browsing");
    let mut pty = Pty::open();
    let device = pty.slave_path.to_str().unwrap();
    let bin = p1mux_bin().to_str().unwrap();
    let mut p1mux = lan.spawn_a(
        bin,
        &[
            "serve",
            "--device",
            device,
            "--listen",
            "127.0.0.1:0",
            "--http",
            "[::]:80",
            "--mdns",
        ],
    );
    p1mux.wait_for("status page: http://[::]:80/");
    p1mux.wait_for(&format!("opened {device}"));
    assert!(
        !p1mux.log_text().contains("cannot bind"),
        "{}",
        p1mux.log_text()
    );

    // The first telegram names the meter: the announcement goes out.
    let written = Instant::now();
    pty.write(SAMPLES[5]);
    let (found, took) = event(&browser, "add", written, Duration::from_secs(2));
    println!("found in {took:?} (IPv{})", if v6 { 6 } else { 4 });
    let txt = &found["txt"];
    for key in TXT_KEYS {
        assert!(txt[key].is_string(), "no {key} in {found}");
    }
    assert_eq!(
        (&txt["api_enabled"], &txt["path"]),
        (&"1".into(), &"/api/v1".into())
    );
    assert_eq!(txt["product_type"], "HWE-P1");
    assert_eq!(found["port"], 80);
    let addresses: Vec<&str> = found["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(addresses.contains(&lan.a_v4), "{addresses:?}");
    assert!(
        addresses.iter().any(|a| a.starts_with("fe80:")),
        "{addresses:?}"
    );

    // Home Assistant's next step: http://ADDRESS/api, port 80, whatever
    // port was announced.
    let out = lan.run_b(&python.0, &[READER, lan.a_v4]);
    let read: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(read["device"]["serial"], txt["serial"]);
    assert_eq!(read["data"]["active_power_w"].as_f64(), Some(111.0));

    // A new address is announced at once.
    let added = Instant::now();
    lan.add_address_a(lan::SECOND_V4);
    let (update, took) = event(&browser, "update", added, Duration::from_secs(2));
    println!("new address seen in {took:?}");
    assert!(
        update["addresses"].to_string().contains(lan::SECOND_V4),
        "{update}"
    );

    // The goodbye: browsers drop the service at once (python-zeroconf
    // waits the 1 s RFC 6762 asks before it forgets a record).
    let stopped = Instant::now();
    p1mux.signal(libc::SIGTERM);
    let (_, took) = event(&browser, "remove", stopped, Duration::from_secs(3));
    println!("goodbye seen in {took:?}");
    p1mux.wait_exit(PATIENCE).expect("p1mux exits");
    if std::env::var("MDNS_LOG").is_ok() {
        println!("{}", p1mux.log_text());
    }
}

fn ipv4(python: &Python) {
    discover(python, &Lan::new().unwrap(), false);
}

fn ipv6(python: &Python) {
    discover(python, &Lan::new().unwrap(), true);
}

/// avahi-daemon on the same host (namespace A) holds port 5353 too.
fn beside_avahi((python, avahi): &(Python, PathBuf)) {
    let lan = Lan::new().unwrap();
    let mut daemon = lan.start_avahi(avahi);
    daemon.wait_for("Server startup complete");
    discover(python, &lan, false);
    assert!(daemon.exited().is_none(), "{}", daemon.log_text());
}

/// Port 80 taken (a web server on the same host): p1mux says so and what
/// to do, and does not start.
fn port_80_taken(_: &Python) {
    let lan = Lan::new().unwrap();
    let server = lan.spawn_a("python3", &["-m", "http.server", "--bind", "0.0.0.0", "80"]);
    server.wait_for("Serving HTTP");
    refuses_to_start(&lan, &[], &["port 80 is taken", "Home Assistant"]);
}

/// A responder that does not share port 5353 (no SO_REUSEADDR): p1mux
/// says so and what to do, and does not start.
fn port_5353_held(_: &Python) {
    let lan = Lan::new().unwrap();
    // One dual-stack socket holds 5353 for IPv4 and IPv6 alike.
    let hold = "import socket, time\n\
                s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n\
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)\n\
                s.bind(('::', 5353))\n\
                print('holding', flush=True)\n\
                time.sleep(60)";
    let holder = lan.spawn_a("python3", &["-c", hold]);
    holder.wait_for("holding");
    refuses_to_start(
        &lan,
        &["--mdns"],
        &["cannot bind UDP port 5353", "leave --mdns out"],
    );
}

/// p1mux with `--http 80` and `extra` in `lan` exits unsuccessfully, its
/// log saying each of `says`.
fn refuses_to_start(lan: &Lan, extra: &[&str], says: &[&str]) {
    let bin = p1mux_bin().to_str().unwrap();
    let mut args = vec![
        "serve",
        "--device",
        "/dev/null",
        "--listen",
        "127.0.0.1:0",
        "--http",
        "80",
    ];
    args.extend_from_slice(extra);
    let mut p1mux = lan.spawn_a(bin, &args);
    let exit = p1mux.wait_exit(PATIENCE).expect("p1mux gives up");
    let log = p1mux.log_text();
    assert!(!exit.success(), "{log}");
    assert!(says.iter().all(|s| log.contains(s)), "{log}");
}

fn main() -> ExitCode {
    // Each test has a network of its own: parallel ones do not meet.
    run(vec![
        needs(
            &ZEROCONF,
            "zeroconf_finds_p1mux_over_ipv4_follows_it_and_sees_it_go",
            ipv4,
        ),
        needs(&ZEROCONF, "zeroconf_finds_p1mux_over_ipv6", ipv6),
        needs(
            &AVAHI,
            "zeroconf_finds_p1mux_beside_avahi_daemon",
            beside_avahi,
        ),
        needs(&ZEROCONF, "port_80_taken_is_said_plainly", port_80_taken),
        needs(&ZEROCONF, "port_5353_held_is_said_plainly", port_5353_held),
    ])
}
