//! Clients that misbehave: hostile heads, slow heads, floods of requests,
//! too many connections, a stream that stops reading.

use std::io::{BufReader, Read, Write};
use std::thread;
use std::time::{Duration, Instant};

use super::DSMR50;
use crate::client::{Events, connect, get, read_reply, start, start_with_raw_client, with_power};
use crate::common::*;

#[test]
fn hostile_clients_hurt_neither_the_meter_nor_memory() {
    let (p1mux, mut pty, mut raw_client, http) = start_with_raw_client(&[]);
    pty.write(DSMR50);
    read_exact(&mut raw_client, DSMR50.len());
    // Warm up, so that the baseline includes what any serving allocates.
    for path in [
        "/",
        "/metrics",
        "/api/v1/status",
        "/api/v1/reading",
        "/api/v1/data",
        "/api",
    ] {
        get(http, path);
    }
    let before = p1mux.vm_rss_kib();

    // Slow ones first, in the background: a head trickled a line a second,
    // and a request line that never ends.
    let slowloris = thread::spawn(move || {
        let mut s = connect(http);
        s.write_all(b"GET / HTTP/1.1\r\n").unwrap();
        let start = Instant::now();
        for i in 0..30 {
            if write!(s, "X-{i}: y\r\n").is_err() {
                break;
            }
            thread::sleep(Duration::from_secs(1));
        }
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        (start.elapsed(), rest)
    });
    let mut no_line_end = connect(http);
    no_line_end.write_all(b"GET / HTTP/1.1").unwrap();

    // A 1 MB header: answered 431 once 8 KiB have come, then closed.
    let mut big = connect(http);
    let writer = {
        let mut big = big.try_clone().unwrap();
        thread::spawn(move || {
            let mut head = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
            head.resize(1 << 20, b'a');
            let _ = big.write_all(&head);
        })
    };
    let reply = read_reply(&mut BufReader::new(&mut big), true);
    assert_eq!(reply.status, 431);
    writer.join().unwrap();
    assert_closed(&mut big);

    // 1 MB without a single line end.
    let mut flat = connect(http);
    let _ = flat.write_all(&vec![b'a'; 1 << 20]);
    let reply = read_reply(&mut BufReader::new(&mut flat), true);
    assert!(matches!(reply.status, 400 | 431), "{}", reply.status);

    // 10,000 pipelined requests, written without reading, while the meter
    // goes on: every answer comes, in order, and the raw client keeps up.
    let mut pipelined = connect(http);
    let writer = {
        let mut s = pipelined.try_clone().unwrap();
        thread::spawn(move || {
            let one = b"GET /api/v1/telegram HTTP/1.1\r\nHost: p1mux\r\n\r\n";
            let all: Vec<u8> = one
                .iter()
                .copied()
                .cycle()
                .take(one.len() * 10_000)
                .collect();
            s.write_all(&all).unwrap();
        })
    };
    let next = with_power(DSMR50, "02.500");
    pty.write(&next);
    assert_eq!(read_exact(&mut raw_client, next.len()), next);
    let mut r = BufReader::new(&mut pipelined);
    for i in 0..10_000 {
        let reply = read_reply(&mut r, true);
        assert_eq!(reply.status, 200, "answer {i}");
        assert!(reply.body == DSMR50 || reply.body == next, "answer {i}");
    }
    writer.join().unwrap();
    let after = p1mux.vm_rss_kib();

    let (took, rest) = slowloris.join().unwrap();
    assert!(
        took < Duration::from_secs(30),
        "the trickler was never closed"
    );
    let rest = String::from_utf8_lossy(&rest);
    assert!(!rest.contains("200 OK"), "{rest}");
    assert_closed(&mut no_line_end);

    assert_eq!(get(http, "/api/v1/telegram").body, next, "still serving");
    assert!(p1mux.log_text().lines().all(|l| !l.contains("panicked")));
    eprintln!("VmRSS {before} KiB before, {after} KiB after");
    // One connection holds at most 8 KiB of input and 128 KiB of answers.
    assert!(
        after < before + 4 * 1024,
        "VmRSS grew from {before} to {after} KiB"
    );
}

#[test]
fn connections_beyond_the_limit_are_told_so() {
    let g = start(&[]);
    let open: Vec<_> = (0..p1mux::http::MAX_CONNECTIONS)
        .map(|_| connect(g.http))
        .collect();
    // Each of them is accepted before the next connects: ask one.
    let mut s = open.last().unwrap().try_clone().unwrap();
    s.write_all(b"GET /api/v1/power HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(read_reply(&mut BufReader::new(&mut s), true).status, 200);
    let mut extra = connect(g.http);
    let reply = read_reply(&mut BufReader::new(&mut extra), true);
    assert_eq!(reply.status, 503);
    assert_closed(&mut extra);
    drop(open);
    // Closed ones free their places.
    let mut tries = 0;
    while get_status(g.http) != 200 {
        tries += 1;
        assert!(tries < 100, "places never freed");
        thread::sleep(Duration::from_millis(20));
    }
}

fn get_status(port: u16) -> u16 {
    get(port, "/api/v1/power").status
}

#[test]
fn a_stream_that_stops_reading_loses_only_its_own_events() {
    let (_p1mux, mut pty, mut raw_client, http) =
        start_with_raw_client(&["--client-buffer", "16K"]);
    // A small receive window, never read: its queue must fill.
    let stuck = {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let addr: std::net::SocketAddr = ([127, 0, 0, 1], http).into();
        socket.connect(&addr.into()).unwrap();
        let mut s: std::net::TcpStream = socket.into();
        s.write_all(b"GET /events HTTP/1.1\r\n\r\n").unwrap();
        s
    };
    let mut events = Events::open(http);
    // Enough to fill the stuck one's queue and its kernel buffers (~6 MB).
    const N: u32 = 2000;
    let power = |i: u32| format!("{:02}.{:03}", i / 1000, i % 1000);
    let raw_reader = thread::spawn(move || {
        let all: Vec<u8> = (0..N).flat_map(|i| with_power(DSMR50, &power(i))).collect();
        read_exact(&mut raw_client, all.len()) == all
    });
    // Each telegram waits for the reading stream to get it: that one keeps
    // up, the stuck one falls behind.
    for i in 0..N {
        pty.write(&with_power(DSMR50, &power(i)));
        let data: serde_json::Value = serde_json::from_str(&events.next("telegram")).unwrap();
        let kw = data["values"]["power_delivered"]["value"].as_f64().unwrap();
        assert!((kw - f64::from(i) / 1000.0).abs() < 1e-9, "event {i}: {kw}");
    }
    assert!(
        raw_reader.join().unwrap(),
        "the raw client lost or changed telegrams"
    );
    // The stuck stream lost events to its bound, and the status says so.
    loop {
        let s: serde_json::Value = serde_json::from_str(&events.next("status")).unwrap();
        let http_out = s["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == "http");
        if http_out.unwrap()["dropped"].as_u64() > Some(0) {
            break;
        }
    }
    drop(stuck);
}
