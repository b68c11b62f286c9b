//! Finding an encrypted meter: auto-detection locks on whole frames at
//! 115200 8N1, and `p1mux probe` names the meter and says whether the key
//! fits. The meter is behind the UART emulator, which sends in the 64-byte
//! pieces of a USB adapter (a frame is some 20 of them: the binary bytes
//! of a frame must not make the setting look wrong before it is whole).

use std::time::{Duration, Instant};

use crate::common::uart::{Meter, SimulatedMeter};
use crate::common::*;
use crate::frames::{KEY_HEX, OTHER_KEY};
use crate::{key_file, lux, lux_frame, wait_for_encrypted_lock};

/// Frames with counters 1 to 40, sent in turn.
fn frames() -> Vec<Vec<u8>> {
    (1..=40).map(lux_frame).collect()
}

#[test]
fn auto_detection_locks_on_encrypted_frames_at_115200_8n1_and_decrypts() {
    let dir = TempDir::new("detect-key");
    let key = key_file(&dir, "key", KEY_HEX);
    let started = Instant::now();
    let pty = Pty::open();
    let device = pty.slave_path.to_str().unwrap().to_string();
    let key_arg = key.to_str().unwrap();
    let p1mux = P1mux::serve(&["--device", &device, "--key-file", key_arg]);
    let port = p1mux.port();
    p1mux.wait_for(&format!("opened {device} (115200 8N1)"));
    let mut client = p1mux.connect(port);
    let _meter = SimulatedMeter::start(&pty, Meter::DSMR5, false, frames(), Duration::from_secs(1));
    let got = read_exact(&mut client, lux(1).len());
    assert!(got == lux(1), "the first frame's telegram, decrypted");
    wait_for_encrypted_lock(&p1mux);
    // As a DSMR 5 meter's telegrams are (tests/detect.rs), with room for a busy machine.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        !p1mux.log_text().contains("not 115200 8N1"),
        "never left the right setting"
    );
}

/// `p1mux probe` on a pty with the meter sending frames; `key`: a key
/// file's path, `env`: a credentials directory.
fn probe(tag: &str, key: Option<&str>, credentials: Option<&str>) -> (Option<i32>, String, String) {
    let pty = Pty::open();
    let dev = pty.slave_path.to_str().unwrap().to_string();
    let mut args = vec!["probe", "--device", &dev, "--seconds", "3"];
    if let Some(key) = key {
        args.extend(["--key-file", key]);
    }
    let mut p1mux = P1mux::spawn(&args, |cmd| {
        cmd.env_remove("CREDENTIALS_DIRECTORY");
        if let Some(dir) = credentials {
            cmd.env("CREDENTIALS_DIRECTORY", dir);
        }
    });
    p1mux.wait_for("Probing ");
    let _meter = SimulatedMeter::start(
        &pty,
        Meter::DSMR5,
        false,
        frames(),
        Duration::from_millis(400),
    );
    let (status, text) = p1mux.finish();
    eprintln!("{tag}:\n{text}");
    (status, text, dev)
}

#[test]
fn probe_names_an_encrypted_meter_and_says_whether_the_key_fits() {
    let meter = "An encrypted meter (system title SAG-1905004217, frame counter ";
    let (status, text, dev) = probe("no key", None, None);
    assert_eq!(status, Some(0), "{text}");
    assert!(
        text.contains(&format!("Verdict: it works. {meter}")),
        "{text}"
    );
    assert!(text.contains(") at 115200 8N1."), "{text}");
    assert!(text.contains("passes the frames through whole"), "{text}");
    assert!(
        text.contains(&format!(
            "p1mux serve --device {dev} --baud 115200 --framing 8n1\n"
        )),
        "{text}"
    );
    let row = text.lines().find(|l| l.starts_with("115200 8N1 ")).unwrap();
    assert!(row.ends_with("encrypted frames"), "{row}");

    let dir = TempDir::new("probe-keys");
    let right = key_file(&dir, "right", KEY_HEX);
    let hex: String = OTHER_KEY.iter().map(|b| format!("{b:02X}")).collect();
    let wrong = key_file(&dir, "wrong", &hex);

    let (status, text, dev) = probe("right key", right.to_str(), None);
    assert_eq!(status, Some(0), "{text}");
    assert!(
        text.contains("Verdict: it works, and the key fits: its frames decrypt and their tags"),
        "{text}"
    );
    assert!(text.contains(meter), "{text}");
    assert!(
        text.contains(&format!(
            "p1mux serve --device {dev} --baud 115200 --framing 8n1 --key-file {}",
            right.display()
        )),
        "{text}"
    );

    let (status, text, dev) = probe("wrong key", wrong.to_str(), None);
    assert_eq!(status, Some(1), "{text}");
    assert!(
        text.contains(
            "Verdict: the key does not fit this meter: check the key from your grid operator."
        ),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "p1mux probe --device {dev} --key-file {}",
            wrong.display()
        )),
        "{text}"
    );

    // systemd's LoadCredential=: the key is found, and the command needs no --key-file.
    let credentials = TempDir::new("probe-credentials");
    key_file(&credentials, "p1mux-key", KEY_HEX);
    let (status, text, dev) = probe("credentials", None, credentials.0.to_str());
    assert_eq!(status, Some(0), "{text}");
    assert!(text.contains("the key fits"), "{text}");
    assert!(
        text.contains(&format!(
            "p1mux serve --device {dev} --baud 115200 --framing 8n1\n"
        )),
        "{text}"
    );
}
