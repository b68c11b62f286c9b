//! What p1mux says when nothing works: one diagnosis, the same words in
//! `serve`'s log and in `probe`'s verdict, and a log that stays short when
//! the bytes stay garbage (a Raspberry Pi's journal lives on an SD card).

mod common;

use std::time::{Duration, Instant};

use common::uart::{Meter, SimulatedMeter};
use common::*;

/// Random bytes, as a cable with a broken data line delivers: the same
/// whatever the port's settings.
fn garbage(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn garbage_is_summed_up_once_not_logged_per_switch() {
    let mut pty = Pty::open();
    let device = pty.slave_path.to_str().unwrap().to_string();
    let p1mux = P1mux::serve(&["--device", &device]);
    p1mux.wait_for(&format!("opened {device}"));
    // About 12 s of garbage at line rate, in reads as a USB adapter gives them.
    let started = Instant::now();
    let mut seed = 1;
    while started.elapsed() < Duration::from_secs(12) {
        pty.write(&garbage(1152, seed));
        seed += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let summary = p1mux.wait_for("tried every setting, and none gives a valid telegram");
    assert!(summary.contains("no setting decodes them"), "{summary}");
    let log = p1mux.log_text();
    let info_switches = log
        .lines()
        .filter(|l| l.contains(" INFO ") && l.contains(" not ") && l.contains("; trying "))
        .count();
    let all_switches = log
        .lines()
        .filter(|l| l.contains(" not ") && l.contains("; trying "))
        .count();
    eprintln!("{info_switches} switches logged at info, {all_switches} in all, in 12 s");
    // One line per setting left in the first round, then a summary.
    assert!(info_switches < 4, "{info_switches} info lines:\n{log}");
    assert_eq!(log.matches("tried every setting").count(), 1, "{log}");
    // After the round each setting is held a while: no port switching
    // dozens of times a second.
    assert!(all_switches < 20, "{all_switches} switches:\n{log}");
}

/// A meter whose line reaches the port with the wrong polarity.
fn not_inverted(pty: &Pty) -> SimulatedMeter {
    let meter = Meter {
        wrong_polarity: true,
        ..Meter::DSMR5
    };
    SimulatedMeter::start(
        pty,
        meter,
        false,
        vec![SAMPLES[5].to_vec()],
        Duration::from_millis(100),
    )
}

#[test]
fn serve_and_probe_give_the_same_diagnosis() {
    // serve: the summary after trying every setting.
    let pty = Pty::open();
    let device = pty.slave_path.to_str().unwrap().to_string();
    let p1mux = P1mux::serve(&["--device", &device]);
    p1mux.wait_for(&format!("opened {device}"));
    let meter = not_inverted(&pty);
    let line = p1mux.wait_longer_for("tried every setting", Duration::from_secs(30));
    let served = line
        .split("none gives a valid telegram: ")
        .nth(1)
        .and_then(|rest| rest.split("; trying them again").next())
        .expect("a diagnosis in the summary")
        .to_string();
    drop(meter);
    drop(p1mux);

    // probe, on the same kind of bytes.
    let pty = Pty::open();
    let device = pty.slave_path.to_str().unwrap().to_string();
    let mut probe = P1mux::spawn(&["probe", "--device", &device, "--seconds", "2"], |_| {});
    probe.wait_for("Probing ");
    let _meter = not_inverted(&pty);
    let verdict = probe.wait_longer_for("Verdict: ", Duration::from_secs(30));
    probe.wait_exit(PATIENCE);
    assert!(
        verdict.starts_with(&format!("Verdict: {served}")),
        "serve said {served:?}, probe said {verdict:?}"
    );
    assert!(served.contains("wrong polarity"), "{served}");
}
