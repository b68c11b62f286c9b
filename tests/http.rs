//! The HTTP output end to end: the real binary, a pty meter, real sockets.
//! Every endpoint must say exactly what the meter sent, and nothing an
//! HTTP client does may panic p1mux, grow its memory without bound, or
//! hold up the meter and the raw clients.

#[path = "http/client.rs"]
mod client;
mod common;
#[path = "http/hostile.rs"]
mod hostile;

use std::io::{BufReader, Read, Write};
use std::net::TcpListener;

use client::{Events, Reply, get, read_reply, start, start_with_raw_client};
use common::*;
use p1mux::config::{Parsed, parse};
use p1mux::telegram::{Data, Reading};

/// A DSMR 5.0 telegram with two M-Bus devices.
pub const DSMR50: &[u8] = SAMPLES[5];

fn json(reply: &Reply) -> serde_json::Value {
    assert_eq!(reply.status, 200, "{}", reply.text());
    serde_json::from_slice(&reply.body).unwrap()
}

/// Waits (by the once-a-second status events) until the status says
/// `telegrams` were received.
fn await_status(events: &mut Events, telegrams: u64) -> serde_json::Value {
    loop {
        let s: serde_json::Value = serde_json::from_str(&events.next("status")).unwrap();
        if s["telegrams"].as_u64() >= Some(telegrams) {
            return s;
        }
    }
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap())
}

#[test]
fn every_endpoint_says_what_the_meter_sent() {
    let (_p1mux, mut pty, mut raw_client, http) = start_with_raw_client(&[]);
    assert_eq!(get(http, "/api/v1/telegram").status, 503, "no telegram yet");
    let mut events = Events::open(http);
    pty.write(DSMR50);

    let reading = Reading::parse(DSMR50);
    let state = p1mux::json::state(&reading);
    assert_eq!(
        events.next("telegram"),
        state,
        "the event is the values JSON"
    );
    assert_eq!(read_exact(&mut raw_client, DSMR50.len()), DSMR50);

    let telegram = get(http, "/api/v1/telegram");
    assert_eq!(telegram.status, 200);
    assert!(
        telegram.body == DSMR50,
        "not byte for byte: {}",
        telegram.text()
    );
    assert_eq!(
        telegram.header("content-type"),
        Some("text/plain; charset=utf-8")
    );

    let data = get(http, "/api/v1/reading");
    assert_eq!(data.text(), state);
    assert_eq!(data.header("content-type"), Some("application/json"));
    let data = json(&data);
    assert_eq!(data["meter"]["equipment_id"], "E0044007382246019");

    // HomeWizard's paths (tests/homewizard.rs reads them as its clients do).
    let homewizard = json(&get(http, "/api/v1/data"));
    assert_eq!(homewizard["active_power_w"], 111);
    assert_eq!(json(&get(http, "/api"))["product_type"], "HWE-P1");

    await_status(&mut events, 1);
    let status = json(&get(http, "/api/v1/status"));
    assert_eq!(status["telegrams"], 1, "{status}");
    assert_eq!(status["ok"], true, "{status}");
    assert_eq!(status["source"]["name"], pty.slave_path.to_str().unwrap());
    assert_eq!(status["source"]["setting"], "115200 8N1");
    assert!(status["last_telegram_age_s"].as_f64().unwrap() < 10.0);
    let outputs: Vec<(&str, u64)> = status["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["name"].as_str().unwrap(), o["clients"].as_u64().unwrap()))
        .collect();
    // The event stream and this request are the HTTP clients.
    assert_eq!(outputs, [("raw", 1), ("http", 2)], "{status}");

    let metrics = get(http, "/metrics");
    assert_eq!(
        metrics.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let m = metrics.text();
    assert_eq!(metric(&m, "p1mux_telegrams_total"), Some(1.0), "{m}");
    assert_eq!(metric(&m, "p1mux_rejects_total{reason=\"crc\"}"), Some(0.0));
    assert_eq!(metric(&m, "p1mux_clients{output=\"raw\"}"), Some(1.0));
    // Every number of the telegram is there, in the metric's unit.
    let mut checked = 0;
    for v in &reading.values {
        let Data::Number(n) = &v.data else { continue };
        let (unit, factor) = match v.unit.as_deref() {
            Some("kWh") => ("_kwh", 1.0),
            Some("kW") => ("_watts", 1000.0),
            Some("V") => ("_volts", 1.0),
            Some("A") => ("_amperes", 1.0),
            Some("m3") => ("_cubic_meters", 1.0),
            None => ("", 1.0),
            Some(other) => panic!("unit {other} not covered by this test"),
        };
        let total = v
            .spec
            .state_class
            .is_some_and(|c| c.as_str() == "total_increasing");
        let name = format!(
            "p1mux_meter_{}{unit}{}",
            v.key,
            if total { "_total" } else { "" }
        );
        let got = metric(&m, &name).unwrap_or_else(|| panic!("no {name} in\n{m}"));
        assert!((got - n.value * factor).abs() < 1e-9, "{name}: {got}");
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} values");
    assert_eq!(
        metric(&m, "p1mux_meter_gas_delivered_timestamp_seconds"),
        Some(1587933001.0),
        "the M-Bus reading's time (200426223001S)"
    );

    let power = json(&get(http, "/api/v1/power"));
    let watts = reading
        .get("power_delivered")
        .unwrap()
        .number_in("W")
        .unwrap()
        - reading
            .get("power_returned")
            .unwrap()
            .number_in("W")
            .unwrap();
    let charted = power["points"][0][1].as_f64().unwrap();
    assert!((charted - watts).abs() < 0.1, "{power}");

    let page = get(http, "/");
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.text().contains("<title>p1mux</title>"));
    let policy = page.header("content-security-policy").unwrap();
    assert!(policy.contains("default-src 'none'"), "{policy}");
    let text = page.text();
    assert!(
        !text.contains("src=\"http") && !text.contains("href=\"http"),
        "external assets"
    );
    // The page reads p1mux's own JSON, not HomeWizard's shape.
    assert!(text.contains("api/v1/reading") && !text.contains("api/v1/data"));
}

#[test]
fn keep_alive_head_and_errors_on_one_connection() {
    let g = start(&[]);
    let mut s = connect(g.http);
    let mut r = BufReader::new(s.try_clone().unwrap());
    let page = get(g.http, "/");

    s.write_all(b"HEAD / HTTP/1.1\r\nHost: p1mux\r\n\r\n")
        .unwrap();
    let head = read_reply(&mut r, false);
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(page.body.len().to_string().as_str())
    );
    s.write_all(b"GET /nope HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(read_reply(&mut r, true).status, 404);
    s.write_all(b"DELETE /api/v1/data HTTP/1.1\r\n\r\n")
        .unwrap();
    let denied = read_reply(&mut r, true);
    assert_eq!(denied.status, 405);
    assert_eq!(denied.header("allow"), Some("GET, HEAD"));
    s.write_all(b"GET /api/v1/data?x=1 HTTP/1.1\r\n\r\n")
        .unwrap();
    assert_eq!(read_reply(&mut r, true).status, 503, "no telegram yet");
    // HTTP/1.0 without keep-alive: the answer, then the close.
    s.write_all(b"GET /api/v1/power HTTP/1.0\r\n\r\n").unwrap();
    let last = read_reply(&mut r, true);
    assert_eq!(
        (last.status, last.header("connection")),
        (200, Some("close"))
    );
    assert_closed(&mut s);

    for bad in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", // a TLS hello
    ] {
        let mut s = connect(g.http);
        s.write_all(bad).unwrap();
        let reply = read_reply(&mut BufReader::new(&mut s), true);
        assert_eq!(reply.status, 400, "{:?}", String::from_utf8_lossy(bad));
        assert_closed(&mut s);
    }
    // A request with a body is answered, and the body never read as a request.
    let mut s = connect(g.http);
    s.write_all(
        b"POST /api/v1/data HTTP/1.1\r\nContent-Length: 22\r\n\r\nGET /metrics HTTP/1.1\r\n",
    )
    .unwrap();
    assert_eq!(read_reply(&mut BufReader::new(&mut s), true).status, 405);
    assert_closed(&mut s);
}

#[test]
fn allow_applies_to_the_status_page() {
    let g = start(&["--allow", "127.0.0.2"]);
    let mut refused = connect(g.http);
    let _ = refused.write_all(b"GET / HTTP/1.1\r\n\r\n");
    let mut got = Vec::new();
    let _ = refused.read_to_end(&mut got);
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    let mut allowed = connect_from(g.http, "127.0.0.2");
    allowed
        .write_all(b"GET /api/v1/power HTTP/1.1\r\n\r\n")
        .unwrap();
    assert_eq!(
        read_reply(&mut BufReader::new(&mut allowed), true).status,
        200
    );
}

#[test]
fn demo_page_defaults_to_loopback_8080_and_yields_if_taken() {
    let demo = match parse("p1mux", &["serve", "--demo"]) {
        Parsed::Serve { config, .. } => config.http.unwrap(),
        _ => panic!("serve --demo must parse"),
    };
    assert_eq!(demo.addrs, ["127.0.0.1:8080".parse().unwrap()]);
    assert!(demo.optional);
    match parse("p1mux", &["serve", "--device", "/dev/ttyUSB0"]) {
        Parsed::Serve { config, .. } => assert!(config.http.is_none(), "off unless given"),
        _ => panic!(),
    }
    match parse(
        "p1mux",
        &["serve", "--http", "8081", "--http", "127.0.0.1:8082"],
    ) {
        Parsed::Serve { config, .. } => {
            let http = config.http.unwrap();
            assert_eq!(http.addrs.len(), 2);
            assert!(!http.optional);
        }
        _ => panic!(),
    }
    assert!(matches!(
        parse("p1mux", &["serve", "--http", "8081", "--http", "8081"]),
        Parsed::Usage(_)
    ));

    // Hold a port: the demo's page yields, an explicit --http fails.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut p1mux = P1mux::serve(&["--device", "/dev/null", "--http", &addr]);
    let (code, log) = p1mux.finish();
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("--http") && log.contains("in use"), "{log}");
    // The demo with the default port taken (by us, or by anyone) still runs.
    let _hold = TcpListener::bind("127.0.0.1:8080");
    let p1mux = P1mux::serve(&["--demo"]);
    let port = p1mux.port();
    p1mux.wait_for("no status page");
    let mut client = p1mux.connect(port);
    let mut buf = [0u8; 1];
    client.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"/");
}
