//! Clients that never read, flood, half-close, reset or vanish, too many
//! of them, more than there are descriptors, over IPv4 and IPv6, allowed
//! or not: each hurts nobody else, and p1mux neither spins nor stops.

use std::io::Read;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use crate::common::*;

#[test]
fn a_client_that_never_reads_hurts_nobody() {
    let (p1mux, mut pty, port) = P1mux::on_pty(&[]);
    let _stuck = p1mux.connect(port);
    let readers: Vec<TcpStream> = (0..3).map(|_| p1mux.connect(port)).collect();

    let rounds = 12; // 12 x 440 KB = 5.3 MB
    let mut stream = Vec::new();
    for _ in 0..rounds {
        stream.extend_from_slice(CAPTURE);
    }
    // The capture starts mid-telegram; its first telegram begins at the first '/'.
    let first = CAPTURE.iter().position(|&b| b == b'/').unwrap();
    let per_round = &CAPTURE[first..];
    let expected_len = per_round.len() * rounds;

    let handles: Vec<_> = readers
        .into_iter()
        .map(|mut r| {
            thread::spawn(move || {
                let mut got = Vec::with_capacity(expected_len);
                let mut buf = vec![0u8; 1 << 16];
                while got.len() < expected_len {
                    match r.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                got
            })
        })
        .collect();

    let mut peak_rss = 0;
    for chunk in stream.chunks(64 * 1024) {
        pty.write(chunk);
        peak_rss = peak_rss.max(p1mux.vm_rss_kib());
    }
    for h in handles {
        let got = h.join().unwrap();
        assert_eq!(got.len(), expected_len, "a reader lost data");
        for (i, round) in got.chunks(per_round.len()).enumerate() {
            assert!(round == per_round, "round {i} differs");
        }
    }
    peak_rss = peak_rss.max(p1mux.vm_rss_kib());
    assert!(peak_rss < 64 * 1024, "VmRSS peaked at {peak_rss} KiB");
    p1mux.signal(libc::SIGUSR1);
    let stats = p1mux.wait_for("stats:");
    eprintln!("peak VmRSS {peak_rss} KiB; {stats}");
    assert!(
        !stats.contains("telegrams dropped from full client queues 0"),
        "the stuck client should have lost telegrams: {stats}"
    );
}

#[test]
fn max_clients_closes_extra_connections() {
    let (p1mux, mut pty, port) = P1mux::on_pty(&["--max-clients", "2"]);
    let mut a = p1mux.connect(port);
    let mut b = p1mux.connect(port);
    let mut c = connect(port);
    p1mux.wait_for("refused 127.0.0.1:");
    assert_closed(&mut c);
    pty.write(SAMPLES[4]);
    assert_eq!(read_exact(&mut a, SAMPLES[4].len()), SAMPLES[4]);
    assert_eq!(read_exact(&mut b, SAMPLES[4].len()), SAMPLES[4]);
    // A slot freed is a slot available.
    drop(a);
    p1mux.wait_for("disconnected");
    // From another host: the last telegram is replayed only to a host
    // that never had it.
    let mut d = p1mux.connect_from(port, "127.0.0.2");
    assert_eq!(read_exact(&mut d, SAMPLES[4].len()), SAMPLES[4], "replayed");
    pty.write(SAMPLES[5]);
    assert_eq!(read_exact(&mut d, SAMPLES[5].len()), SAMPLES[5]);
}

#[test]
fn out_of_file_descriptors_neither_spins_nor_stops_serving() {
    let mut pty = Pty::open();
    let device = pty.slave_path.to_str().unwrap().to_string();
    let p1mux = P1mux::spawn(
        &["serve", "--listen", "127.0.0.1:0", "--device", &device],
        |cmd| process::limit_fds(cmd, 32),
    );
    let port = p1mux.port();
    p1mux.wait_for(&format!("opened {device}"));
    let mut first = p1mux.connect(port);

    let crowd: Vec<TcpStream> = (0..100).map(|_| connect(port)).collect();
    p1mux.wait_for("out of file descriptors");
    let cpu_before = procfs::cpu_seconds(p1mux.pid());
    let wall = Instant::now();
    for sample in SAMPLES.iter().skip(2) {
        pty.write(sample);
        assert_eq!(
            read_exact(&mut first, sample.len()),
            *sample,
            "the first client is still served"
        );
        thread::sleep(Duration::from_millis(400));
    }
    let busy = (procfs::cpu_seconds(p1mux.pid()) - cpu_before) / wall.elapsed().as_secs_f64();
    // A spinning loop burns a whole core (1.0); an idle one next to nothing.
    assert!(
        busy < 0.5,
        "p1mux used {:.0}% CPU while out of fds",
        busy * 100.0
    );

    drop(crowd);
    // Once fds are free again, new clients get in at once: the storm's
    // closed connections are drained as fast as each frees an fd, not one
    // pause at a time. (Scenario time, not synchronisation: the issue's
    // client arrives 2 s after the storm.)
    thread::sleep(Duration::from_secs(2));
    let arrived = Instant::now();
    let mut late = p1mux.connect_from(port, "127.0.0.2");
    let waited = arrived.elapsed();
    eprintln!("a client 2 s after the storm was served after {waited:?}");
    // Draining behind 1 s pauses took 5 s or more; a loose bound for noisy machines.
    assert!(
        waited < Duration::from_millis(2500),
        "served after {waited:?}"
    );
    pty.write(SAMPLES[2]);
    let got = read_exact(&mut late, SAMPLES[6].len() + SAMPLES[2].len());
    assert!(
        got == [SAMPLES[6], SAMPLES[2]].concat(),
        "the replayed telegram, then the new one"
    );
    p1mux.signal(libc::SIGUSR1);
    eprintln!(
        "{:.1}% CPU while out of fds; {}",
        busy * 100.0,
        p1mux.wait_for("stats:")
    );
}

#[test]
fn client_input_is_discarded_and_a_flood_hurts_nobody() {
    let (p1mux, mut pty, port) = P1mux::on_pty(&[]);
    let mut reader = p1mux.connect(port);
    let mut flooder = p1mux.connect(port);
    let flood = thread::spawn(move || {
        let junk = vec![b'/'; 64 * 1024];
        let mut sent = 0usize;
        while sent < 32 << 20 {
            match std::io::Write::write(&mut flooder, &junk) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        sent
    });
    let mut expected = Vec::new();
    for _ in 0..20 {
        for sample in &SAMPLES[2..] {
            pty.write(sample);
            expected.extend_from_slice(sample);
        }
    }
    assert_eq!(read_exact(&mut reader, expected.len()), expected);
    let sent = flood.join().unwrap();
    assert_eq!(sent, 32 << 20, "p1mux kept reading the flood");
    // Nothing a client sends reaches the meter.
    let mut from_p1mux = [0u8; 16];
    pty.set_nonblocking();
    assert!(
        matches!(std::io::Read::read(&mut pty.master, &mut from_p1mux), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    );
}

#[test]
fn dual_stack_listener_takes_ipv4_and_ipv6() {
    let p1mux = P1mux::spawn(&["serve", "--demo", "--listen", "[::]:0"], |_| {});
    let line = p1mux.wait_for("listening on ");
    assert!(line.contains("listening on [::]:"), "{line}");
    let port: u16 = line.rsplit(':').next().unwrap().parse().unwrap();
    for addr in ["127.0.0.1", "::1"] {
        let mut client = TcpStream::connect((addr, port)).expect(addr);
        client.set_read_timeout(Some(PATIENCE)).unwrap();
        // Logged as users know the address: 127.0.0.1, not [::ffff:127.0.0.1].
        let local = client.local_addr().unwrap();
        let shown = p1mux.wait_for(" connected (");
        assert!(
            shown.contains(&format!("client {local} connected")),
            "{shown}"
        );
        let mut buf = [0u8; 4096];
        let n = client.read(&mut buf).unwrap();
        assert!(n > 0 && buf[0] == b'/', "{addr}");
    }
}

#[test]
fn allow_limits_who_may_connect_ipv4_mapped_included() {
    // A dual-stack listener sees IPv4 clients as ::ffff:127.0.0.1; an IPv4
    // rule must still match them.
    let p1mux = P1mux::spawn(
        &[
            "serve",
            "--demo",
            "--listen",
            "[::]:0",
            "--allow",
            "127.0.0.0/8",
        ],
        |_| {},
    );
    let port = p1mux.port();
    let mut v4 = connect(port);
    let mut buf = [0u8; 4096];
    let n = v4.read(&mut buf).unwrap();
    assert!(
        n > 0 && buf[0] == b'/',
        "an allowed IPv4 client gets telegrams"
    );
    let mut v6 = TcpStream::connect(("::1", port)).unwrap();
    v6.set_read_timeout(Some(PATIENCE)).unwrap();
    let line = p1mux.wait_for("not in --allow");
    assert!(line.contains("refused [::1]:"), "{line}");
    assert_closed(&mut v6);
    drop(p1mux);

    let p1mux = P1mux::serve(&["--demo", "--allow", "10.0.0.0/8", "--allow", "fd00::/8"]);
    let mut stranger = connect(p1mux.port());
    p1mux.wait_for("refused 127.0.0.1:");
    assert_closed(&mut stranger);
}

#[test]
fn clients_that_half_close_reset_or_vanish_hurt_nobody() {
    let (p1mux, mut pty, port) = P1mux::on_pty(&["--no-replay"]);
    let sockets_before = sockets(&p1mux);
    let mut reader = p1mux.connect(port);
    // Half-closes its side at once (as `ncat < /dev/null` does).
    let half = p1mux.connect(port);
    half.shutdown(std::net::Shutdown::Write).unwrap();
    // Vanishes with a reset instead of a FIN (SO_LINGER 0).
    let reset = p1mux.connect(port);
    socket2::SockRef::from(&reset)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(reset);
    // Connects and is never heard of again: no reads, no close (a peer
    // that lost power looks the same until keepalive gives up on it).
    let _ghost = p1mux.connect(port);

    let mut expected = Vec::new();
    for sample in &SAMPLES[2..] {
        pty.write(sample);
        expected.extend_from_slice(sample);
    }
    assert_eq!(read_exact(&mut reader, expected.len()), expected);
    p1mux.signal(libc::SIGUSR1);
    let stats = p1mux.wait_for("stats:");
    assert!(stats.contains("clients 2 "), "{stats}");
    let log = p1mux.log_text();
    let half_gone = format!("client {} disconnected: closed", half.local_addr().unwrap());
    assert!(log.contains(&half_gone), "{log}");
    assert_eq!(log.matches("Connection reset by peer").count(), 1, "{log}");
    assert_eq!(
        sockets(&p1mux),
        sockets_before + 2,
        "only the reader and the silent client hold sockets"
    );
}

/// How many sockets p1mux holds.
fn sockets(p1mux: &P1mux) -> usize {
    procfs::socket_count(p1mux.pid()).expect("p1mux is running")
}
