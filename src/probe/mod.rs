//! `p1mux probe`: a diagnosis for someone with a cable in one hand and a
//! terminal in the other. Tries each setting, shows what each gave, and
//! ends with a verdict in plain words and the command to run.

use std::fmt::Write as _;
use std::io::Read as _;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, poll};
use serialport::TTYPort;

use crate::config::KeyFiles;
use crate::detect::{Diagnosis, Observation, diagnose};
use crate::encrypted::{Piece, Splitter, key};
use crate::framer::Framer;
use crate::line::{CANDIDATES, Setting};
use crate::source::serial::port::{self as serial, FdReader, OpenError};

mod encrypted;
pub use encrypted::KeyCheck;

/// Exit status when a working setting was found.
pub const WORKS: u8 = 0;
/// Exit status when none was, or the port could not be read.
pub const FAILS: u8 = 1;

/// Runs the probe, printing to stdout; returns the exit status.
pub fn run(device: &Path, per_setting: Duration, keys: &KeyFiles) -> u8 {
    let credentials = key::credentials_directory();
    let loaded = key::load(
        keys.key_file.as_deref(),
        keys.auth_key_file.as_deref(),
        credentials.as_deref(),
    );
    let mut check = match loaded {
        Ok(keys) => keys.map(KeyCheck::new),
        Err(e) => {
            println!("Verdict: {e}.");
            return FAILS;
        }
    };
    let (status, report) = probe(device, per_setting, check.as_mut(), |line| {
        println!("{line}")
    });
    println!("{report}");
    status
}

/// The probe itself: `progress` gets each table line as soon as it is
/// known (a whole probe can take a minute); the verdict is returned.
/// With `key`, an encrypted meter's frames are also tried with it.
pub fn probe(
    device: &Path,
    per_setting: Duration,
    mut key: Option<&mut KeyCheck>,
    mut progress: impl FnMut(&str),
) -> (u8, String) {
    let dev = device.display();
    let mut port = match serial::open(device, CANDIDATES[0]) {
        Ok(port) => port,
        Err(OpenError::Missing) => return (FAILS, missing(device)),
        Err(OpenError::PermissionDenied { owner }) => {
            return (
                FAILS,
                format!(
                    "Verdict: permission denied on {dev}.\n\
                     The user running p1mux may not open the port: {}.\n\
                     \nThen check again with:\n\n    p1mux probe --device {dev}\n",
                    serial::permission_hint(owner.as_ref())
                ),
            );
        }
        Err(e) => {
            return (
                FAILS,
                format!(
                    "Verdict: {}.\n\nCheck again with:\n\n    p1mux probe --device {dev}\n",
                    e.describe(device)
                ),
            );
        }
    };
    progress(&format!(
        "Probing {dev}, up to {}s per setting.\n",
        per_setting.as_secs()
    ));
    progress(&format!(
        "{:<34} {:>7} {:>6} {:>4} {:>7} {:>10}  {}",
        "setting", "bytes", "frames", "ok", "crc-bad", "parity-err", "looks like"
    ));
    let mut tried: Vec<(Setting, Observation)> = Vec::new();
    for (i, &setting) in CANDIDATES.iter().enumerate() {
        if i > 0
            && let Err(e) = serial::reconfigure(&mut port, setting)
        {
            return (
                FAILS,
                format!("Verdict: could not switch {dev} to {setting}: {e}.\n"),
            );
        }
        let (seen, lost) = listen(&port, setting, per_setting, key.as_deref_mut());
        progress(&row(setting, &seen));
        if let Some(err) = lost {
            return (
                FAILS,
                format!(
                    "\nVerdict: {dev} went away while probing ({err}): a loose USB plug or cable?\n"
                ),
            );
        }
        let done = seen.first.is_some();
        let silent = seen.bytes == 0;
        tried.push((setting, seen));
        if done {
            break;
        }
        if silent {
            // No bytes at one speed means no bytes at any: the meter is
            // not talking to this port at all.
            break;
        }
    }
    verdict(device, per_setting, &tried, key.as_deref())
}

/// Listens with `setting` until a valid telegram or encrypted frame (and,
/// with `key`, a frame that shows whether the key fits), clearly wrong
/// bytes, or `limit`. Returns what was seen, and an error if the port
/// went away.
fn listen(
    port: &TTYPort,
    setting: Setting,
    limit: Duration,
    mut key: Option<&mut KeyCheck>,
) -> (Observation, Option<std::io::Error>) {
    let fd = port.as_raw_fd();
    let mut splitter = Splitter::new();
    let mut framer = Framer::new(setting.parity);
    let mut seen = Observation::default();
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    let done = |seen: &Observation, key: &Option<&mut KeyCheck>| match (&seen.first, key) {
        (Some(found), Some(key)) if found.encrypted.is_some() => key.settled(),
        (first, _) => first.is_some(),
    };
    while !done(&seen, &key) && !seen.clearly_wrong() {
        let left = limit.saturating_sub(start.elapsed());
        if left.is_zero() {
            break;
        }
        let wait = left.min(Duration::from_millis(200)).as_millis() as i32;
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        if poll(&mut fds, wait).unwrap_or(0) <= 0 {
            continue;
        }
        loop {
            match FdReader(port).read(&mut buf) {
                Ok(0) => {
                    let hung_up =
                        std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "device hung up");
                    return (seen, Some(hung_up));
                }
                Ok(n) => splitter.push(&buf[..n], |piece| match piece {
                    Piece::Text(run) => {
                        seen.bytes(run, setting.parity);
                        framer.push(run, |event| seen.event(&event));
                    }
                    Piece::Frame(frame) => {
                        seen.frame(&frame);
                        if let Some(key) = key.as_deref_mut() {
                            key.look(&frame);
                        }
                    }
                    Piece::Rejected(_) => {}
                }),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return (seen, Some(e)),
            }
        }
    }
    (seen, None)
}

fn row(setting: Setting, seen: &Observation) -> String {
    format!(
        "{:<34} {:>7} {:>6} {:>4} {:>7} {:>10}  {}",
        setting.label(),
        seen.bytes,
        seen.frames + seen.encrypted,
        seen.valid + seen.encrypted,
        seen.crc_bad,
        seen.parity_errors,
        seen.looks_like()
    )
}

fn verdict(
    device: &Path,
    per_setting: Duration,
    tried: &[(Setting, Observation)],
    key: Option<&KeyCheck>,
) -> (u8, String) {
    let dev = device.display();
    let total: u64 = tried.iter().map(|(_, s)| s.bytes).sum();
    let mut out = String::new();
    for setting in CANDIDATES.iter().skip(tried.len()) {
        let why = if total == 0 {
            "skipped: no bytes at any speed"
        } else {
            "not needed"
        };
        let _ = writeln!(out, "{:<34} {why}", setting.label());
    }
    if let Some((setting, seen)) = tried.iter().find(|(_, seen)| seen.first.is_some()) {
        let found = seen.first.as_ref().expect("found above");
        if found.encrypted.is_some() {
            let (status, text) = encrypted::verdict(device, *setting, found, key);
            out.push_str(&text);
            return (status, out);
        }
        let _ = write!(
            out,
            "\nVerdict: it works. A {} meter ({}) at {setting}.\n",
            found.generation, found.header
        );
        if found.parity_in_bit7 {
            let _ = writeln!(
                out,
                "Note: {}, so telegrams come through clean.",
                setting.parity_note()
            );
        }
        let _ = write!(
            out,
            "\nRun:\n\n    p1mux serve --device {dev} {}\n\n\
             (or leave out --baud and --framing: serve detects them by itself)\n",
            setting.serve_args()
        );
        return (WORKS, out);
    }
    let observed: Vec<(Setting, &Observation)> = tried.iter().map(|(s, o)| (*s, o)).collect();
    let diagnosis = diagnose(&observed, tried.len() == CANDIDATES.len());
    let listened = match diagnosis {
        Diagnosis::NoBytes => format!(" (listened {}s)", per_setting.as_secs()),
        _ => format!(" ({total} bytes)"),
    };
    let _ = write!(
        out,
        "\nVerdict: {}{listened}.\n{}\nWhen fixed, check again with:\n\n    p1mux probe --device {dev}\n",
        diagnosis.summary(),
        diagnosis.advice(&dev.to_string()),
    );
    (FAILS, out)
}

fn missing(device: &Path) -> String {
    let dev = device.display();
    let mut out =
        format!("Verdict: {dev} does not exist: the cable is unplugged, or has another name.\n");
    let ports = serial::existing_ports();
    if ports.is_empty() {
        out.push_str(
            "No serial ports exist on this machine: plug the cable in, and check `dmesg` for its name.\n",
        );
        let _ = write!(
            out,
            "\nThen check again with:\n\n    p1mux probe --device {dev}\n"
        );
    } else {
        out.push_str("Serial ports that do exist:\n");
        for port in &ports {
            let _ = writeln!(out, "    {port}");
        }
        let _ = write!(
            out,
            "\nTry the one that appears when you plug the cable in:\n\n    p1mux probe --device {}\n",
            ports[0]
        );
    }
    out
}
