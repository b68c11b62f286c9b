//! Encrypted P1 (issue 11) through the running gateway: the real binary, a
//! pty as the meter (behind the UART emulator for detection and probe), a
//! TCP source, real TCP clients. Frames are built here from the sample
//! telegrams with a test key, as a meter builds them (aes-gcm directly,
//! tests/encrypted/frames.rs).

#[path = "../common/mod.rs"]
mod common;
// Each test binary uses its own part of the frame builder.
#[allow(dead_code)]
#[path = "../encrypted/frames.rs"]
mod frames;

mod delivery;
mod detection;
mod keys;
mod rejects;

use std::path::PathBuf;

use common::{P1mux, TempDir};
pub use frames::{LUX, lux, lux_frame};

/// A key file in `dir`, readable by its owner only, as the guide says.
pub fn key_file(dir: &TempDir, name: &str, hex: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.0.join(name);
    std::fs::write(&path, format!("{hex}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// Waits until auto-detection has locked on the test meter's encrypted
/// frames, from the first one, at 115200 8N1.
pub fn wait_for_encrypted_lock(p1mux: &P1mux) {
    let line = p1mux.wait_for("detected: ");
    assert!(
        line.contains(
            "detected: an encrypted meter (system title SAG-1905004217, frame counter 1) at \
             115200 8N1"
        ),
        "{line}"
    );
}

/// The SIGUSR1 stats line.
pub fn stats(p1mux: &P1mux) -> String {
    p1mux.signal(libc::SIGUSR1);
    p1mux.wait_for("stats:")
}

#[test]
fn numbered_telegrams_are_valid_and_differ() {
    let (a, b) = (lux(1), lux(2));
    assert_eq!(a.len(), LUX.len());
    assert_ne!(a, b);
    for t in [&a, &b] {
        let mut valid = 0;
        p1mux::framer::Framer::new(p1mux::framer::Parity::None).push(t, |e| {
            valid += usize::from(matches!(e, p1mux::framer::Event::Telegram(_)))
        });
        assert_eq!(valid, 1);
    }
}
