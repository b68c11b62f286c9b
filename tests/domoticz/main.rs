//! Domoticz's "P1 Smart Meter with LAN interface", reading p1mux.
//!
//! `DomoticzP1` (model.rs) models Domoticz's TCP reader and P1 parser. A
//! gateway that glues telegrams, splits them badly or prepends anything
//! loses data there, exactly as it would in a real Domoticz: here it reads
//! p1mux at a meter's pace, at line rate, across an unplug, behind cut-off
//! heads, from a pty and from a network source.

#[path = "../common/mod.rs"]
mod common;
mod model;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::*;
use model::{DomoticzP1, READ_SIZE, through_bang};
use p1mux::framer::{Event, Framer, Parity};
use p1mux_testkit::pty::Pace;

/// The 566 telegrams of one real meter's capture, as it sent them.
fn meter_telegrams() -> Vec<Vec<u8>> {
    let mut telegrams = Vec::new();
    Framer::new(Parity::None).push(CAPTURE, |event| {
        if let Event::Telegram(t) = event {
            telegrams.push(t.bytes.to_vec());
        }
    });
    assert_eq!(telegrams.len(), 566);
    telegrams
}

/// Domoticz instances reading p1mux, each on its own thread.
type Readers = Vec<JoinHandle<DomoticzP1>>;

/// A Domoticz instance reading p1mux on its own thread until `want`
/// telegrams were accepted, or nothing arrived for PATIENCE.
fn domoticz(port: u16, want: usize) -> JoinHandle<DomoticzP1> {
    let mut stream = connect(port);
    thread::spawn(move || {
        let mut parser = DomoticzP1::default();
        let mut buf = [0u8; READ_SIZE];
        while parser.accepted.len() < want {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => parser.parse(&buf[..n]),
            }
        }
        parser
    })
}

/// Connects `n` Domoticz instances and waits until p1mux has them all.
fn connect_domoticz(p1mux: &P1mux, port: u16, n: usize, want: usize) -> Readers {
    let readers = (0..n).map(|_| domoticz(port, want)).collect();
    let mut connected = 0;
    while connected < n {
        p1mux.wait_for(" connected (");
        connected += 1;
    }
    readers
}

fn assert_all_delivered(readers: Readers, sent: &[Vec<u8>]) {
    let want: Vec<&[u8]> = sent.iter().map(|t| through_bang(t)).collect();
    for (i, reader) in readers.into_iter().enumerate() {
        let d = reader.join().unwrap();
        let got: Vec<&[u8]> = d.accepted.iter().map(Vec::as_slice).collect();
        let lost = want.len() - got.len().min(want.len());
        assert!(
            got == want,
            "Domoticz {i}: {} of {} telegrams, {lost} lost, {} dismissed, {} reads ignored",
            got.len(),
            want.len(),
            d.dismissed,
            d.reads_ignored
        );
    }
}

/// p1mux on a pty at a fixed 115200 8N1, as for a DSMR 5 meter.
fn start(device: &Path) -> (P1mux, u16) {
    let device = device.to_str().unwrap();
    let p1mux = P1mux::serve(&["--device", device, "--baud", "115200", "--no-replay"]);
    let port = p1mux.port();
    (p1mux, port)
}

/// Sends `telegrams` one by one with an idle gap after each, as a meter
/// does between its 1 s (or 10 s) telegrams. The gap is shortened to keep
/// the suite fast; the reader is idle in it all the same.
/// `P1MUX_DOMOTICZ_GAP_MS=1000` runs it at a real meter's pace.
fn send_paced(pty: &mut Pty, telegrams: &[Vec<u8>]) {
    send_paced_to(&mut pty.master, telegrams);
}

/// [`send_paced`] to any meter side: a pty's master, a dongle's socket.
fn send_paced_to(meter: &mut impl Write, telegrams: &[Vec<u8>]) {
    let gap = std::env::var("P1MUX_DOMOTICZ_GAP_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    for telegram in telegrams {
        meter.write_all(telegram).expect("writing meter bytes");
        thread::sleep(Duration::from_millis(gap));
    }
}

/// p1mux on a fresh pty, 1000 of the meter's telegrams to send, and three
/// Domoticz instances connected and waiting for them.
fn three_domoticz_and_1000_telegrams() -> (P1mux, Pty, Vec<Vec<u8>>, Readers) {
    let pty = Pty::open();
    let (p1mux, port) = start(&pty.slave_path);
    p1mux.wait_for("opened ");
    let sent: Vec<Vec<u8>> = meter_telegrams().into_iter().cycle().take(1000).collect();
    let readers = connect_domoticz(&p1mux, port, 3, sent.len());
    (p1mux, pty, sent, readers)
}

#[test]
fn a_thousand_telegrams_at_a_meters_pace_reach_three_domoticz() {
    let (_p1mux, mut pty, sent, readers) = three_domoticz_and_1000_telegrams();
    send_paced(&mut pty, &sent);
    assert_all_delivered(readers, &sent);
}

#[test]
fn a_thousand_telegrams_back_to_back_at_line_rate_reach_three_domoticz() {
    // A meter sending without pause: 115200 baud is 11520 bytes/s, handed
    // over by the USB adapter in 64-byte pieces.
    let (_p1mux, mut pty, sent, readers) = three_domoticz_and_1000_telegrams();
    Pace::DSMR5
        .send(&mut pty.master, &sent.concat(), Instant::now())
        .expect("writing meter bytes");
    assert_all_delivered(readers, &sent);
}

#[test]
fn domoticz_loses_nothing_across_an_unplug() {
    let dir = TempDir::new("domoticz-replug");
    let link = dir.0.join("p1");
    let mut pty = Pty::open();
    point_symlink(&link, &pty.slave_path);
    let (p1mux, port) = start(&link);
    let link_str = link.to_str().unwrap();
    p1mux.wait_for(&format!("opened {link_str}"));
    let telegrams = meter_telegrams();
    let (before, after) = (&telegrams[..100], &telegrams[100..200]);
    let readers = connect_domoticz(&p1mux, port, 2, 200);

    send_paced(&mut pty, before);
    // Unplugged in the middle of a telegram; it comes back as another tty.
    pty.write(&telegrams[200][..400]);
    let mut pty = replug(&p1mux, &link, pty);
    send_paced(&mut pty, after);

    let sent: Vec<Vec<u8>> = before.iter().chain(after).cloned().collect();
    assert_all_delivered(readers, &sent);
}

/// `cut`, or the next offset if `cut` ends a line: a head cut off in the
/// middle of a line.
fn mid_line(telegram: &[u8], cut: usize) -> usize {
    cut + usize::from(telegram[cut - 1] == b'\n')
}

/// The meter's telegrams, every second one right behind the head of a
/// telegram whose rest was lost, cut in the middle of a line (now and then
/// in its ident): what the meter side writes, one element at a time, and
/// the good telegrams in it. The last has no head before it.
fn behind_cut_heads(n: usize) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let telegrams = meter_telegrams();
    let (good, lost) = (&telegrams[..n], &telegrams[n..]);
    let writes = good
        .iter()
        .enumerate()
        .map(|(i, telegram)| {
            if i % 2 == 0 || i + 1 == n {
                return telegram.clone();
            }
            let head = &lost[i];
            let cut = if i % 10 == 1 {
                5 + i % 7
            } else {
                20 + i * 97 % (head.len() - 40)
            };
            [&head[..mid_line(head, cut)], telegram].concat()
        })
        .collect();
    (writes, good.to_vec())
}

/// When a Domoticz reader may stop: it has what it waits for.
type Done = fn(&DomoticzP1, &[Vec<u8>]) -> bool;

/// It accepted the last telegram sent (the others came before it).
fn got_the_last(d: &DomoticzP1, good: &[Vec<u8>]) -> bool {
    d.accepted.last().map(Vec::as_slice) == good.last().map(|t| through_bang(t))
}

/// It accepted as many telegrams as were sent.
fn got_as_many(d: &DomoticzP1, good: &[Vec<u8>]) -> bool {
    d.accepted.len() >= good.len()
}

/// One Domoticz reading p1mux until `done`, or nothing arrives for
/// PATIENCE; registered with p1mux when this returns.
fn domoticz_until(p1mux: &P1mux, port: u16, good: &[Vec<u8>], done: Done) -> Reader {
    let mut stream = connect(port);
    let good = good.to_vec();
    let reader = thread::spawn(move || {
        let mut parser = DomoticzP1::default();
        let mut buf = [0u8; READ_SIZE];
        while !done(&parser, &good) {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => parser.parse(&buf[..n]),
            }
        }
        parser
    });
    p1mux.wait_for(" connected (");
    reader
}

type Reader = JoinHandle<DomoticzP1>;

/// How many of `good` Domoticz kept, whole and in order.
fn kept(d: &DomoticzP1, good: &[Vec<u8>]) -> usize {
    let mut want = good.iter().map(|t| through_bang(t));
    d.accepted
        .iter()
        .filter(|got| want.any(|w| w == got.as_slice()))
        .count()
}

/// What one Domoticz keeps of `writes` (holding `good`) sent through a pty
/// to p1mux started with `args`.
fn through_pty(args: &[&str], writes: &[Vec<u8>], good: &[Vec<u8>], done: Done) -> DomoticzP1 {
    let mut pty = Pty::open();
    let device = pty.slave_path.to_str().unwrap();
    let p1mux = P1mux::serve(&[&["--device", device, "--no-replay"], args].concat());
    let port = p1mux.port();
    p1mux.wait_for("opened ");
    let reader = domoticz_until(&p1mux, port, good, done);
    send_paced(&mut pty, writes);
    reader.join().unwrap()
}

/// The same from a network source: a dongle (ESP, ser2net) that p1mux
/// connects to, played here.
fn through_dongle(writes: &[Vec<u8>], good: &[Vec<u8>]) -> DomoticzP1 {
    through_dongle_kept(writes, good).0
}

/// [`through_dongle`], with p1mux still running, for what it says after.
fn through_dongle_kept(writes: &[Vec<u8>], good: &[Vec<u8>]) -> (DomoticzP1, P1mux) {
    let dongle = TcpListener::bind("127.0.0.1:0").unwrap();
    let device = format!("tcp://{}", dongle.local_addr().unwrap());
    let p1mux = P1mux::serve(&["--device", &device, "--no-replay"]);
    let port = p1mux.port();
    let mut source = net::accept_within(&dongle);
    p1mux.wait_for(&format!("connected to {device}"));
    let reader = domoticz_until(&p1mux, port, good, got_the_last);
    send_paced_to(&mut source, writes);
    (reader.join().unwrap(), p1mux)
}

#[test]
fn every_telegram_behind_a_cut_head_reaches_domoticz() {
    // A head cut off in the middle of a line glues to the telegram right
    // behind it. Through p1mux, Domoticz keeps every good telegram, and
    // never fewer than from the raw bytes, which is what it keeps behind a
    // plain byte proxy (ser2net): printed for comparison.
    let (writes, good) = behind_cut_heads(41);
    let dsmr5 = ["--baud", "115200"];
    let valid = through_pty(&dsmr5, &writes, &good, got_the_last);
    let raw_args = [&dsmr5[..], &["--forward", "raw"]].concat();
    let raw = through_pty(&raw_args, &writes, &good, got_the_last);
    let (through_p1mux, alone) = (kept(&valid, &good), kept(&raw, &good));
    eprintln!(
        "DSMR 5, {} good telegrams, {} of them behind a cut head: Domoticz keeps \
         {through_p1mux} through p1mux, {alone} from the raw bytes ({} dismissed)",
        good.len(),
        good.len() / 2,
        raw.dismissed,
    );
    assert!(through_p1mux >= alone, "{through_p1mux} < {alone}");
    assert_all_delivered(vec![thread::spawn(move || valid)], &good);
    // The same from a network source.
    let dongle = through_dongle(&writes, &good);
    assert_all_delivered(vec![thread::spawn(move || dongle)], &good);

    // DSMR 2.2 (no CRC, 9600 7E1): the header line tells where the
    // telegram behind the head begins.
    let (a, b) = (SAMPLES[0], SAMPLES[1]);
    let mut writes = Vec::new();
    for i in 0..10 {
        writes.push(a.to_vec());
        writes.push([&b[..mid_line(b, 5 + i * 61)], a].concat());
    }
    let good = vec![a.to_vec(); writes.len()];
    let dsmr22 = ["--baud", "9600", "--framing", "7e1"];
    let valid = through_pty(&dsmr22, &writes, &good, got_as_many);
    assert_all_delivered(vec![thread::spawn(move || valid)], &good);
}

/// Issue 18: a `tcp://` source behind software that turns CRLF into LF.
/// Domoticz alone keeps such telegrams (it checks no CRC before it saw a
/// CR); p1mux kept none of them. It now puts the CRs back where the CRC
/// says they were, so Domoticz gets what the meter sent, CRC checked.
#[test]
fn telegrams_whose_crs_were_stripped_reach_domoticz_as_the_meter_sent_them() {
    let good: Vec<Vec<u8>> = meter_telegrams().into_iter().take(10).collect();
    let stripped: Vec<Vec<u8>> = good
        .iter()
        .map(|t| {
            String::from_utf8(t.clone())
                .unwrap()
                .replace("\r\n", "\n")
                .into_bytes()
        })
        .collect();
    let mut alone = DomoticzP1::default();
    for t in &stripped {
        alone.parse(t);
    }
    let (through, p1mux) = through_dongle_kept(&stripped, &good);
    let (kept_through, kept_alone) = (kept(&through, &good), alone.accepted.len());
    eprintln!(
        "CRs stripped, 10 telegrams: Domoticz keeps {kept_through} through p1mux, \
         {kept_alone} from the stripped bytes (unchecked)"
    );
    assert_eq!(kept_alone, 10);
    assert!(through.cr_found, "Domoticz saw CRs, so it checked the CRCs");
    assert_all_delivered(vec![thread::spawn(move || through)], &good);
    // Counted: the stats line says how many.
    p1mux.signal(libc::SIGUSR1);
    p1mux.wait_for("telegrams 10 valid (10 with CRs restored)");
}

// An encrypted meter (Luxembourg, Austria), decrypted by p1mux: Domoticz,
// without the key, reads plain DSMR. Self-contained from here on.

#[allow(dead_code)] // this file uses a small part of the frame builder
#[path = "../encrypted/frames.rs"]
mod encrypted_frames;

#[test]
fn domoticz_gets_every_telegram_p1mux_decrypts() {
    use encrypted_frames::{Form, KEY_HEX, frame};
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("domoticz-key");
    let key = dir.0.join("key");
    std::fs::write(&key, KEY_HEX).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut pty = Pty::open();
    let device = pty.slave_path.to_str().unwrap();
    let key_arg = key.to_str().unwrap();
    let p1mux = P1mux::serve(&["--device", device, "--no-replay", "--key-file", key_arg]);
    let port = p1mux.port();
    p1mux.wait_for("opened ");
    // The meter's telegrams, each in a frame of its own (counters 1, 2, ...).
    let sent: Vec<Vec<u8>> = meter_telegrams().into_iter().take(300).collect();
    let frames: Vec<Vec<u8>> = (1..)
        .zip(&sent)
        .map(|(n, t)| frame(Form::Long2, n, t))
        .collect();
    let readers = connect_domoticz(&p1mux, port, 2, sent.len());
    send_paced(&mut pty, &frames);
    assert_all_delivered(readers, &sent);
}
