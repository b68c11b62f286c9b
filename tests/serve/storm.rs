//! A connection storm (issue 18): thousands of connects and refusals in a
//! moment must not flood the log (journald's rate limit would then hide
//! the warnings that matter). A burst is logged line by line up to a
//! limit, the rest is summed up in a line that accounts for every one of
//! them, and a client connected throughout gets every telegram.

use std::net::TcpStream;
use std::time::Instant;

use crate::common::*;

/// The counts in a "connection storm: A accepted, C closed and R refused"
/// line.
fn summed_up(line: &str) -> [usize; 3] {
    let words: Vec<&str> = line.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    let count = |what: &str| -> usize {
        let at = words.iter().position(|w| *w == what).expect(what);
        words[at - 1].parse().expect("a count")
    };
    [count("accepted"), count("closed"), count("refused")]
}

#[test]
fn a_connection_storm_is_summarised_not_logged_line_by_line() {
    const STORM: usize = 2_000;
    let (p1mux, mut pty, port) = P1mux::on_pty(&["--allow", "127.0.0.1"]);
    let mut steady = p1mux.connect(port);
    let started = Instant::now();
    // Half connect and go at once; half come from an address --allow refuses.
    for i in 0..STORM {
        if i % 2 == 0 {
            drop(TcpStream::connect(("127.0.0.1", port)).expect("connecting"));
        } else {
            drop(connect_from(port, "127.0.0.2"));
        }
    }
    let storm_took = started.elapsed();
    pty.write(SAMPLES[3]);
    assert_eq!(read_exact(&mut steady, SAMPLES[3].len()), SAMPLES[3]);

    // Every connection of the storm is either logged or summed up: wait
    // for the summaries until the counts add up. (Connections that came
    // faster than their ends were read are refused by --max-clients.)
    let (mut logged, mut summaries) = ([0; 3], Vec::new());
    let adds_up = |logged: [usize; 3], summaries: &[[usize; 3]]| {
        let [accepted, closed, refused] =
            [0, 1, 2].map(|i| logged[i] + summaries.iter().map(|s| s[i]).sum::<usize>());
        accepted + refused == STORM + 1 && closed + 1 == accepted
    };
    while !adds_up(logged, &summaries) {
        p1mux.wait_for("connection storm: ");
        let log = p1mux.log_text();
        logged = [
            log.matches(" connected (").count(),
            log.matches(" disconnected: ").count(),
            log.matches("refused 127.0.0.").count(),
        ];
        summaries = log
            .lines()
            .filter(|l| l.contains("connection storm: "))
            .map(summed_up)
            .collect();
    }
    let lines = logged.iter().sum::<usize>() + summaries.len();
    let one_a_connection: usize =
        logged.iter().sum::<usize>() + summaries.iter().flatten().sum::<usize>();
    eprintln!(
        "{STORM} connections in {storm_took:?} (accepted and closed, or refused): {lines} log \
         lines ({} of them summaries), where one a connection would be {one_a_connection}",
        summaries.len(),
    );
    assert!(lines <= 100, "{lines} lines for a storm of {STORM}");
}
