//! The HTTP output judged by the real consumers: Prometheus' own checker
//! reads `/metrics`, and headless Chromium renders the page, live.
//!
//! `P1MUX_UPDATE_SCREENSHOT=1` also feeds the page three minutes of
//! telegrams and writes docs/status-page.png (the README's picture);
//! every run writes target/status-page.png.

#[path = "http/client.rs"]
mod client;
mod common;
#[path = "http/devtools.rs"]
mod devtools;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use client::{Events, get, start, with_power, with_values};
use common::external::{Tool, needs, run};
use common::process::which;
use common::{PATIENCE, SAMPLES};
use devtools::Browser;
use p1mux::telegram::Reading;

static PROMTOOL: Tool<PathBuf> = Tool::new(
    "promtool (Prometheus' metrics checker)",
    "P1MUX_REQUIRE_PROMTOOL",
    "apt-get install prometheus",
    || find_program("promtool"),
);

static CHROMIUM: Tool<PathBuf> = Tool::new(
    "headless Chromium",
    "P1MUX_REQUIRE_CHROMIUM",
    "apt-get install chromium",
    || find_program("chromium"),
);

fn main() -> ExitCode {
    run(vec![
        needs(&PROMTOOL, "metrics_pass_promtool", metrics_pass_promtool),
        needs(&CHROMIUM, "page_shows_live_power", page_shows_live_power),
    ])
}

fn find_program(name: &str) -> Result<PathBuf, String> {
    which(name).ok_or_else(|| format!("no {name} in PATH"))
}

/// A DSMR 5.0 three-phase meter with gas and a second M-Bus device.
const DSMR50: &[u8] = SAMPLES[5];

/// `promtool check metrics` on every kind of telegram: names, types, help,
/// units and counters as Prometheus wants them.
fn metrics_pass_promtool(promtool: &PathBuf) {
    let mut g = start(&[]);
    let mut events = Events::open(g.http);
    let mut samples: Vec<&[u8]> = SAMPLES.to_vec();
    samples.extend([
        &include_bytes!("data/belgium_fluvius_emucs171_gas_water.txt")[..],
        include_bytes!("data/luxembourg_smarty_plaintext.txt"),
        include_bytes!("data/sweden_aidon_6534_reactive.txt"),
    ]);
    let mut sent = 0;
    for (i, sample) in samples.iter().enumerate() {
        // A CRC-less meter after CRC'd ones would be damage: a new p1mux.
        if i > 0 && !same_kind(samples[i - 1], sample) {
            g = start(&[]);
            events = Events::open(g.http);
            sent = 0;
        }
        g.pty.write(sample);
        sent += 1;
        events.next("telegram");
        // The gateway's counters come with the next status snapshot.
        loop {
            let s: serde_json::Value = serde_json::from_str(&events.next("status")).unwrap();
            if s["telegrams"].as_u64() >= Some(sent) {
                break;
            }
        }
        let metrics = get(g.http, "/metrics");
        assert_eq!(metrics.status, 200);
        let mut check = Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running promtool");
        check
            .stdin
            .take()
            .unwrap()
            .write_all(&metrics.body)
            .unwrap();
        let out = check.wait_with_output().unwrap();
        assert!(
            out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
            "promtool on sample {i}: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            metrics.text()
        );
        let text = metrics.text();
        assert!(text.contains("p1mux_meter_info{"), "{text}");
        assert!(text.contains("p1mux_telegrams_total "), "{text}");
    }
}

/// Whether two telegrams would come from one kind of port: CRC or none.
fn same_kind(a: &[u8], b: &[u8]) -> bool {
    let crc = |t: &[u8]| {
        t.iter()
            .rposition(|&b| b == b'!')
            .is_some_and(|i| t.len() - i == 7)
    };
    crc(a) == crc(b)
}

/// The power the page shows for a telegram: net watts, en-GB digits.
fn shown_power(telegram: &[u8]) -> String {
    let r = Reading::parse(telegram);
    let w = |k| r.get(k).and_then(|v| v.number_in("W")).unwrap_or(0.0);
    let net = (w("power_delivered") - w("power_returned")).round() as i64;
    let digits = net.abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}{grouped} W", if net < 0 { "-" } else { "" })
}

#[allow(clippy::ptr_arg)] // the signature `needs` takes
fn page_shows_live_power(chromium: &PathBuf) {
    let mut g = start(&[]);
    let mut events = Events::open(g.http);
    let first = with_power(DSMR50, "01.193");
    g.pty.write(&first);
    events.next("telegram");

    let profile = common::TempDir::new("chromium");
    let url = format!("http://127.0.0.1:{}/", g.http);
    let mut browser = Browser::launch(chromium, &profile.0, &url);
    let power = "document.getElementById('power').textContent";
    browser.wait_for(power, &shown_power(&first));
    browser.wait_for(
        "document.getElementById('meter').textContent",
        "/ISK5\\2M550T-1012 · DSMR 5.0 · E0044007382246019",
    );
    // The next telegram reaches the open page by itself.
    let second = with_power(DSMR50, "02.468");
    g.pty.write(&second);
    browser.wait_for(power, &shown_power(&second));
    // Gateway health from the status events: all well, nothing to warn of.
    browser.wait_for(
        "[...document.querySelectorAll('#gateway tr')].find(r => \
         r.cells[0].textContent == 'telegrams forwarded').cells[1].textContent",
        "2",
    );
    browser.wait_for("document.getElementById('pill').textContent", "ok");
    browser.wait_for(
        "getComputedStyle(document.getElementById('problem')).display",
        "none",
    );
    browser.wait_for(
        "document.querySelectorAll('#phases tr').length",
        "4", // a header and three phases
    );

    let update = std::env::var("P1MUX_UPDATE_SCREENSHOT").is_ok_and(|v| v == "1");
    // Domoticz and Home Assistant, say, while the screenshot is taken.
    let _raw: Vec<_> = (0..2).map(|_| g.p1mux.connect(g.raw)).collect();
    if update {
        feed_a_realistic_day(&mut g.pty, &mut events);
        browser.wait_for(
            "String(document.querySelector('#chart polyline').points.length > 10)",
            "true",
        );
    }
    let phone = browser.screenshot(390, true);
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::write(target.join("status-page-phone.png"), &phone).unwrap();
    let png = browser.screenshot(1000, false);
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000);
    std::fs::write(target.join("status-page.png"), &png).unwrap();
    if update {
        let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs");
        std::fs::create_dir_all(&docs).unwrap();
        let docs = docs.join("status-page.png");
        std::fs::write(&docs, &png).unwrap();
        eprintln!("wrote {}", docs.display());
    }
}

/// Three minutes of a household: a base load that wanders, and the kettle.
fn feed_a_realistic_day(pty: &mut common::Pty, events: &mut Events) {
    let start = Instant::now();
    let mut i = 0u32;
    while start.elapsed() < Duration::from_secs(180) {
        let t = f64::from(i);
        let kettle = if (60..90).contains(&i) { 2000.0 } else { 0.0 };
        let watts = 350.0 + 150.0 * (t / 20.0).sin() + kettle;
        let kw = |share: f64| format!("{:06.3}*kW", watts * share / 1000.0);
        let amps = |share: f64| format!("{:03.0}*A", watts * share / 230.0);
        let (total, l1, l2, l3) = (kw(1.0), kw(0.2), kw(0.7), kw(0.1));
        let (a1, a2, a3) = (amps(0.2), amps(0.7), amps(0.1));
        pty.write(&with_values(
            DSMR50,
            &[
                ("1-0:1.7.0", &total),
                ("1-0:21.7.0", &l1),
                ("1-0:41.7.0", &l2),
                ("1-0:61.7.0", &l3),
                ("1-0:31.7.0", &a1),
                ("1-0:51.7.0", &a2),
                ("1-0:71.7.0", &a3),
            ],
        ));
        events.next("telegram");
        std::thread::sleep(Duration::from_secs(1).saturating_sub(Duration::from_millis(5)));
        i += 1;
    }
    assert!(start.elapsed() < Duration::from_secs(180) + PATIENCE);
}
