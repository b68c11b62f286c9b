//! What stops p1mux before it serves: a device it may not open (and what
//! to do about it), one that is no serial port, and command-line mistakes.

use crate::common::*;

#[test]
fn permission_denied_exits_naming_the_owner() {
    let pty = Pty::open();
    let device = pty.slave_path.to_str().unwrap();
    let mut p1mux = P1mux::spawn(
        &["serve", "--listen", "127.0.0.1:0", "--device", device],
        deny_access(&pty.slave_path),
    );
    let line = p1mux.wait_for("permission denied");
    // Nobody but its owner may open it: a group would not help.
    assert!(
        line.contains("the device belongs to") && line.contains("will not help"),
        "{line}"
    );
    assert!(!line.contains("usermod"), "{line}");
    let status = p1mux.wait_exit(PATIENCE).expect("exits");
    assert_eq!(status.code(), Some(1));
    let log = p1mux.log_text();
    assert!(!log.contains("retrying"), "it does not retry: {log}");
}

#[test]
fn permission_denied_on_a_group_device_advises_joining_that_group() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to give the pty to a group");
        return;
    }
    let pty = Pty::open();
    let device = pty.slave_path.to_str().unwrap();
    // Group "tty" exists everywhere (gid 5 on Debian); the test user
    // (nobody) is not in it.
    let path = std::ffi::CString::new(device).unwrap();
    // SAFETY: chown/chmod on a path we made, with plain integer arguments.
    unsafe {
        assert_eq!(libc::chown(path.as_ptr(), 0, 5), 0);
        assert_eq!(libc::chmod(path.as_ptr(), 0o660), 0);
    }
    let mut p1mux = P1mux::spawn(
        &["serve", "--listen", "127.0.0.1:0", "--device", device],
        |cmd| {
            use std::os::unix::process::CommandExt;
            cmd.uid(65534).gid(65534);
        },
    );
    let line = p1mux.wait_for("permission denied");
    assert!(line.contains(":tty with mode 0660"), "{line}");
    assert!(line.contains("usermod -aG tty"), "{line}");
    assert_eq!(p1mux.wait_exit(PATIENCE).and_then(|s| s.code()), Some(1));
}

#[test]
fn not_a_serial_device_is_a_startup_error() {
    let mut p1mux = P1mux::spawn(
        &["serve", "--listen", "127.0.0.1:0", "--device", "/dev/null"],
        |_| {},
    );
    p1mux.wait_for("not a serial device");
    assert_eq!(p1mux.wait_exit(PATIENCE).and_then(|s| s.code()), Some(1));
}

#[test]
fn command_line_mistakes_exit_2_and_help_explains() {
    let run = |args: &[&str]| {
        std::process::Command::new(p1mux_bin())
            .args(args)
            .output()
            .unwrap()
    };
    for bad in [
        &["serve", "--baud", "0"][..],
        &["serve", "--listen", "nowhere"],
        &["serve", "--framing", "8e2"],
        &["serve", "--allow", "192.168.1.0/24x"],
        &["serve", "--listen", "1.2.3.4:99999"],
        &["serve", "--bogus"],
        &[],
    ] {
        let out = run(bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(!out.stderr.is_empty(), "{bad:?} says why");
    }
    let out = run(&["--version"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("p1mux 0."));
    let out = run(&["serve", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for option in [
        "--device",
        "--listen",
        "--baud",
        "--framing",
        "--forward",
        "--max-clients",
        "--client-buffer",
        "--no-replay",
        "--demo",
    ] {
        assert!(help.contains(option), "help lacks {option}");
    }
}
