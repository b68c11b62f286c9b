//! `--device tcp://HOST:PORT`: a network P1 source (an ESP dongle,
//! ser2net) played by a listener in the test.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::*;

/// Writes `bytes` in pieces, as a dongle forwarding a serial line would.
fn send_in_pieces(source: &mut TcpStream, bytes: &[u8]) {
    for piece in bytes.chunks(97) {
        source.write_all(piece).unwrap();
    }
}

#[test]
fn network_source_is_checked_fanned_out_and_reconnected() {
    let dongle = TcpListener::bind("127.0.0.1:0").unwrap();
    let dongle_port = dongle.local_addr().unwrap().port();
    let device = format!("tcp://127.0.0.1:{dongle_port}");
    let p1mux = P1mux::serve(&["--device", &device, "--no-replay"]);
    let port = p1mux.port();
    let mut source = net::accept_within(&dongle);
    p1mux.wait_for(&format!("connected to {device}"));
    let mut clients: Vec<TcpStream> = (0..3).map(|_| p1mux.connect(port)).collect();

    let (a, b, c, d) = (SAMPLES[2], SAMPLES[3], SAMPLES[5], SAMPLES[6]);
    let mut first = b"\x00\xff noise\r\n".to_vec();
    first.extend(corrupt(a));
    first.extend_from_slice(a);
    first.extend_from_slice(b"\r\n");
    // Cut short at a line end: the next header begins a line.
    let cut = a[..a.len() / 2].iter().rposition(|&x| x == b'\n').unwrap() + 1;
    first.extend_from_slice(&a[..cut]);
    first.extend_from_slice(b);
    send_in_pieces(&mut source, &first);
    let expected = [a, b].concat();
    for client in &mut clients {
        assert_eq!(read_exact(client, expected.len()), expected);
    }
    let line = p1mux.wait_for(&format!("receiving from {device}"));
    assert!(line.contains("DSMR 4"), "{line}");

    // The dongle drops the connection (rebooted, Wi-Fi lost): p1mux
    // reconnects, the clients never notice.
    drop(source);
    p1mux.wait_for(&format!("lost {device}"));
    let mut source = net::accept_within(&dongle);
    send_in_pieces(&mut source, c);
    for client in &mut clients {
        assert_eq!(read_exact(client, c.len()), c);
    }

    // SIGHUP reconnects on purpose; nothing is ever written to the source.
    p1mux.signal(libc::SIGHUP);
    p1mux.wait_for("SIGHUP: reconnecting");
    let mut rest = Vec::new();
    source.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "p1mux wrote to the source: {rest:?}");
    let mut source = net::accept_within(&dongle);
    send_in_pieces(&mut source, d);
    for client in &mut clients {
        assert_eq!(read_exact(client, d.len()), d);
        assert_silent(client, Duration::from_millis(200));
    }
}

#[test]
fn waits_for_a_source_by_name_and_strips_parity_in_bit7() {
    // A port nobody listens on yet: the dongle is still booting.
    let dongle_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let device = format!("tcp://localhost:{dongle_port}");
    let p1mux = P1mux::serve(&["--device", &device]);
    let port = p1mux.port();
    let refused = p1mux.wait_for("retrying every");
    assert!(refused.contains(&device), "{refused}");
    let mut client = p1mux.connect(port);

    // Up now; "localhost" may resolve to ::1 first, where nobody listens.
    let dongle = TcpListener::bind(("127.0.0.1", dongle_port)).unwrap();
    let mut source = net::accept_within(&dongle);
    // ser2net at 9600 8N1 in front of a DSMR 2.2 meter (7E1): the parity
    // arrives in bit 7.
    let dsmr22 = SAMPLES[0];
    send_in_pieces(&mut source, &with_parity_bit(dsmr22));
    assert_eq!(read_exact(&mut client, dsmr22.len()), dsmr22);
    let line = p1mux.wait_for(&format!("receiving from {device}"));
    assert!(
        line.contains("DSMR 2.2") && line.contains("parity in bit 7"),
        "{line}"
    );
}

#[test]
fn usage_errors_for_network_sources() {
    for args in [
        &["serve", "--device", "tcp://192.168.1.50"][..],
        &["serve", "--device", "tcp://esp:23", "--baud", "9600"],
        &["probe", "--device", "tcp://esp:23"],
    ] {
        let mut p1mux = P1mux::spawn(args, |_| {});
        let status = p1mux.wait_exit(PATIENCE).expect("p1mux should exit");
        assert_eq!(status.code(), Some(2), "{args:?}: {}", p1mux.log_text());
    }
}

#[test]
fn behind_another_p1mux_a_reconnect_repeats_nothing() {
    // The upstream p1mux replays its last telegram only to a host that never
    // had it, so the downstream, reconnecting from the same host, gets none.
    let mut pty = Pty::open();
    let device = pty.slave_path.to_str().unwrap().to_string();
    let upstream = P1mux::serve(&["--device", &device, "--baud", "115200"]);
    let up_port = upstream.port();
    upstream.wait_for(&format!("opened {device}"));
    let source = format!("tcp://127.0.0.1:{up_port}");
    let downstream = P1mux::serve(&["--device", &source]);
    let port = downstream.port();
    downstream.wait_for(&format!("connected to {source}"));
    upstream.wait_for(" connected (1 connected)");
    let mut client = downstream.connect(port);

    let (a, b) = (SAMPLES[5], SAMPLES[6]);
    pty.write(a);
    assert_eq!(read_exact(&mut client, a.len()), a);
    downstream.signal(libc::SIGHUP);
    downstream.wait_for(&format!("connected to {source}"));
    upstream.wait_for("not replaying the last telegram to 127.0.0.1");
    pty.write(b);
    assert_eq!(read_exact(&mut client, b.len()), b, "b, not a again");
}

#[test]
fn a_source_that_replays_on_connect_repeats_nothing() {
    // A gateway that sends its last telegram to every new connection (as
    // p1mux did before it remembered hosts, and as some dongles do): after
    // a reconnect that telegram is one the clients have already.
    let dongle = TcpListener::bind("127.0.0.1:0").unwrap();
    let device = format!("tcp://{}", dongle.local_addr().unwrap());
    let p1mux = P1mux::serve(&["--device", &device]);
    let port = p1mux.port();
    let mut source = net::accept_within(&dongle);
    p1mux.wait_for(&format!("connected to {device}"));
    let mut client = p1mux.connect(port);
    let (a, b) = (SAMPLES[5], SAMPLES[6]);
    send_in_pieces(&mut source, a);
    assert_eq!(read_exact(&mut client, a.len()), a);

    p1mux.signal(libc::SIGHUP);
    let mut source = net::accept_within(&dongle);
    p1mux.wait_for(&format!("connected to {device}"));
    send_in_pieces(&mut source, a);
    p1mux.wait_for("skipped a replayed telegram");
    send_in_pieces(&mut source, b);
    assert_eq!(read_exact(&mut client, b.len()), b, "b, not a again");
}

#[test]
fn a_connect_that_hangs_is_given_up_and_retried() {
    // A listener whose accept queue is full drops new SYNs: the connect
    // neither succeeds nor fails, as with a dongle behind a dropping
    // firewall.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    socket.listen(0).unwrap();
    let dongle: TcpListener = socket.into();
    let dongle_port = dongle.local_addr().unwrap().port();
    let mut queue = Vec::new();
    // Fill the queue; later connects time out instead of completing.
    for _ in 0..8 {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.set_nonblocking(true).unwrap();
        let addr: std::net::SocketAddr = ([127, 0, 0, 1], dongle_port).into();
        let _ = s.connect(&addr.into());
        queue.push(s);
    }
    let device = format!("tcp://127.0.0.1:{dongle_port}");
    let p1mux = P1mux::serve(&["--device", &device]);
    let port = p1mux.port();
    // CONNECT_TIMEOUT is 10 s.
    let line = p1mux.wait_longer_for("connection timed out", PATIENCE * 2);
    assert!(line.contains(&device), "{line}");
    // Room again: the next attempt gets through.
    drop(queue);
    dongle.set_nonblocking(true).unwrap();
    while let Ok((stale, _)) = dongle.accept() {
        drop(stale);
    }
    dongle.set_nonblocking(false).unwrap();
    let mut source = net::accept_within(&dongle);
    p1mux.wait_for(&format!("connected to {device}"));
    let mut client = p1mux.connect(port);
    send_in_pieces(&mut source, SAMPLES[5]);
    assert_eq!(read_exact(&mut client, SAMPLES[5].len()), SAMPLES[5]);
}
