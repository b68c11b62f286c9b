//! Brokers that attack (issue 18, items 5-7): a 100 MB PUBLISH, an endless
//! stream of small ones, a broker that accepts and drops, one that sends
//! garbage, one that trickles a byte a second. The raw clients judge: every
//! telegram, in time, and p1mux stays small and quiet.

use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::fake::{self, CONNACK, FakeBroker};
use crate::judge::Judge;

const GAP: Duration = Duration::from_millis(500);

fn judge(broker: &FakeBroker, extra: &[&str]) -> Judge {
    let url = broker.url();
    let mut args = vec!["--mqtt", url.as_str(), "--mqtt-id", "m"];
    args.extend_from_slice(extra);
    Judge::start(&args)
}

/// CONNACK, then a PUBLISH that says it is 100 MB long, and its 100 MB.
fn huge_publish(stream: &mut TcpStream, stop: &AtomicBool) -> io::Result<()> {
    const LEN: usize = 100_000_000;
    stream.write_all(&CONNACK)?;
    fake::drain(stream);
    let mut header = vec![0x30];
    header.extend(fake::remaining_length(LEN));
    header.extend([0, 1, b'x']);
    stream.write_all(&header)?;
    let chunk = vec![0u8; 64 * 1024];
    let mut sent = 3;
    while sent < LEN && !stop.load(Ordering::Relaxed) {
        stream.write_all(&chunk)?;
        sent += chunk.len();
    }
    Ok(())
}

/// CONNACK, then small PUBLISHes as fast as p1mux takes them, for ever.
fn endless_publishes(stream: &mut TcpStream, stop: &AtomicBool) -> io::Result<()> {
    stream.write_all(&CONNACK)?;
    fake::drain(stream);
    let one = fake::publish("noise/a", &[b'n'; 40]);
    let batch: Vec<u8> = one.iter().copied().cycle().take(one.len() * 1000).collect();
    while !stop.load(Ordering::Relaxed) {
        stream.write_all(&batch)?;
    }
    Ok(())
}

/// CONNACK, then the start of a packet that never ends: a byte a second.
fn trickle(stream: &mut TcpStream, stop: &AtomicBool) -> io::Result<()> {
    stream.write_all(&CONNACK)?;
    fake::drain(stream);
    let mut header = vec![0x30];
    header.extend(fake::remaining_length(200_000));
    stream.write_all(&header)?;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_secs(1));
        stream.write_all(b"t")?;
    }
    Ok(())
}

/// Item 5: a packet over the limit ends the connection as soon as its
/// header says so, with one line that says why; memory stays small.
pub fn huge_publish_is_refused_while_reading() {
    let broker = FakeBroker::start(huge_publish);
    let mut judge = judge(&broker, &[]);
    judge.logged("mqtt: connected to");
    judge.telegrams_for(Duration::from_secs(4), GAP);
    let log = judge.p1mux.log_text();
    let why: Vec<&str> = log.lines().filter(|l| l.contains("more than")).collect();
    let figures = judge.terminate();
    eprintln!("huge PUBLISH: {figures}");
    assert!(
        why.first().is_some_and(|l| l.contains(" WARN ")),
        "{why:?}\n{log}"
    );
    let loud = why.iter().filter(|l| !l.contains(" DEBUG ")).count();
    assert_eq!(loud, 1, "said once: {why:?}");
}

/// Item 5: a broker that never stops sending gets a budget per wake-up:
/// the raw clients keep their turn and memory stays small.
pub fn endless_publishes_are_read_within_a_budget() {
    let broker = FakeBroker::start(endless_publishes);
    let mut judge = judge(&broker, &[]);
    judge.logged("mqtt: connected to");
    judge.telegrams_for(Duration::from_secs(5), GAP);
    eprintln!("endless PUBLISHes: {}", judge.terminate());
}

/// Item 6: a broker that accepts and drops at once, or sends garbage,
/// is retried with a growing backoff and one warning.
fn flapping(behaviour: fake::Behaviour, name: &str) {
    let broker = FakeBroker::start(behaviour);
    let mut judge = judge(&broker, &[]);
    let start = Instant::now();
    judge.telegrams_for(Duration::from_secs(9), GAP);
    let (connections, window) = (broker.connections(), start.elapsed());
    let log = judge.p1mux.log_text();
    let loud: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("mqtt") && !l.contains(" DEBUG "))
        .collect();
    let figures = judge.terminate();
    eprintln!("{name}: {connections} connections in {window:.1?}, {figures}");
    // Backoff 1, 2, 4 s: attempts at 0, 1, 3 and 7 s; a reset backoff
    // makes one a second.
    assert!(
        connections <= 6,
        "{connections} connections in {window:?}:\n{log}"
    );
    // One warning; "publishing to", "announced", and "connected" once
    // before it and once after.
    let warnings = loud.iter().filter(|l| l.contains(" WARN ")).count();
    assert_eq!(warnings, 1, "{loud:#?}");
    assert!(loud.len() <= 6, "{loud:#?}");
}

pub fn accept_and_drop_backs_off() {
    flapping(fake::accept_and_drop, "accept and drop");
}

pub fn garbage_after_connack_backs_off() {
    flapping(fake::garbage_after_connack, "garbage after CONNACK");
}

/// Item 7: bytes that complete no packet do not answer a PINGREQ.
pub fn trickling_broker_is_found_dead() {
    let broker = FakeBroker::start(trickle);
    let mut judge = judge(&broker, &["--mqtt-qos", "1"]);
    judge.logged("mqtt: connected to");
    // A PINGREQ after 15 s of no packet, 15 s for its answer.
    let deadline = Instant::now() + Duration::from_secs(50);
    let found = loop {
        judge.telegram();
        let log = judge.p1mux.log_text();
        if let Some(line) = log.lines().find(|l| l.contains("PINGREQ")) {
            break line.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "the trickling broker was never found dead:\n{log}"
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    assert!(found.contains("did not answer"), "{found}");
    eprintln!("trickle: {}", judge.terminate());
}
