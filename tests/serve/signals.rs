//! The cable unplugged and plugged back in behind a symlink, SIGHUP and
//! SIGTERM: clients stay through the first two, and are closed by the last.

use std::time::Duration;

use crate::common::*;

#[test]
fn unplug_and_replug_through_a_symlink_keeps_clients() {
    let dir = TempDir::new("replug");
    let link = dir.0.join("p1");
    let link_str = link.to_str().unwrap().to_string();
    // The device is missing at start: p1mux waits for it.
    let p1mux = P1mux::serve(&["--device", &link_str]);
    let port = p1mux.port();
    p1mux.wait_for("waiting for");
    let mut client = p1mux.connect(port);

    for (round, sample) in SAMPLES.iter().enumerate().skip(3).take(3) {
        let mut pty = Pty::open();
        point_symlink(&link, &pty.slave_path);
        p1mux.wait_longer_for(&format!("opened {link_str}"), REOPEN_PATIENCE);
        pty.write(sample);
        assert_eq!(
            read_exact(&mut client, sample.len()),
            *sample,
            "round {round}"
        );
        // Unplug: the cable's tty vanishes mid-telegram.
        pty.write(&sample[..100]);
        std::fs::remove_file(&link).unwrap();
        drop(pty);
        p1mux.wait_for(&format!("lost {link_str}"));
    }
    // The half telegram from before the unplug never reaches the client.
    let mut pty = Pty::open();
    point_symlink(&link, &pty.slave_path);
    p1mux.wait_longer_for(&format!("opened {link_str}"), REOPEN_PATIENCE);
    pty.write(SAMPLES[6]);
    assert_eq!(read_exact(&mut client, SAMPLES[6].len()), SAMPLES[6]);
}

#[test]
fn sighup_reopens_the_port() {
    let (p1mux, mut pty, port) = P1mux::on_pty(&[]);
    let mut client = p1mux.connect(port);
    p1mux.signal(libc::SIGHUP);
    p1mux.wait_for("SIGHUP: reopening");
    p1mux.wait_for("opened ");
    pty.write(SAMPLES[5]);
    assert_eq!(read_exact(&mut client, SAMPLES[5].len()), SAMPLES[5]);
}

#[test]
fn sigterm_exits_zero_and_closes_clients() {
    let (mut p1mux, _pty, port) = P1mux::on_pty(&[]);
    let mut client = p1mux.connect(port);
    p1mux.signal(libc::SIGTERM);
    let status = p1mux
        .wait_exit(Duration::from_secs(1))
        .expect("exit within a second");
    assert!(status.success(), "{status:?}");
    assert_closed(&mut client);
    p1mux.wait_for("SIGTERM: closing 1 client and exiting");
}

#[test]
fn the_stats_line_counts_what_clients_were_sent() {
    // Telegrams with no client to take them are not "sent to clients".
    let (p1mux, mut pty, port) = P1mux::on_pty(&[]);
    pty.write(SAMPLES[5]);
    p1mux.wait_for("detected: ");
    p1mux.signal(libc::SIGUSR1);
    let alone = p1mux.wait_for("stats:");
    assert!(alone.contains("telegrams 1 valid"), "{alone}");
    assert!(alone.contains("telegrams written to clients 0"), "{alone}");
    let mut client = p1mux.connect_from(port, "127.0.0.2");
    read_exact(&mut client, SAMPLES[5].len()); // the replay
    pty.write(SAMPLES[6]);
    read_exact(&mut client, SAMPLES[6].len());
    p1mux.signal(libc::SIGUSR1);
    let served = p1mux.wait_for("stats:");
    assert!(served.contains("telegrams 2 valid"), "{served}");
    assert!(
        served.contains("telegrams written to clients 2"),
        "{served}"
    );
}
