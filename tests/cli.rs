//! The command line through the real binary: what a user types, what they
//! are told, and the exit status (2 for a mistake, before anything opens).

mod common;

use common::*;

/// Runs p1mux with `args`; returns its exit status and everything it printed.
fn run(args: &[&str]) -> (Option<i32>, String) {
    P1mux::spawn(args, |_| {}).finish()
}

#[test]
fn mistakes_say_what_to_write_instead() {
    for (args, says) in [
        (&["serve", "--bogus"][..], "Run `p1mux serve --help`"),
        (&["bogus"], "Run `p1mux --help`"),
        (
            &["serve", "--listen", "127.0.0.1:99999"],
            "port 99999 is out of range",
        ),
        (
            &[
                "serve",
                "--listen",
                "127.0.0.1:2001",
                "--listen",
                "127.0.0.1:2001",
            ],
            "is given twice",
        ),
        (
            &[
                "serve",
                "--listen",
                "[::]:2001",
                "--listen",
                "127.0.0.1:2001",
            ],
            "already serves IPv4",
        ),
        (
            &["serve", "--baud", "57600"],
            "use auto, 115200 (DSMR 4/5) or 9600",
        ),
        (
            &["serve", "--demo", "--device", "/dev/ttyUSB0"],
            "both say where telegrams come from",
        ),
    ] {
        let (status, text) = run(args);
        assert_eq!(status, Some(2), "{args:?}: {text}");
        assert!(text.contains(says), "{args:?} should say {says:?}: {text}");
    }
}

#[test]
fn a_relative_device_name_points_at_dev() {
    let (status, text) = run(&["serve", "--listen", "127.0.0.1:0", "--device", "ttyUSB0"]);
    assert_eq!(status, Some(1), "{text}");
    assert!(text.contains("use --device /dev/ttyUSB0"), "{text}");
}

#[test]
fn a_missing_device_lists_the_ports_that_exist() {
    let p1mux = P1mux::serve(&["--device", "/dev/p1mux-test-no-such-cable"]);
    let line = p1mux.wait_for("waiting for /dev/p1mux-test-no-such-cable");
    assert!(
        line.contains("serial ports that exist now") || line.contains("no serial ports exist"),
        "{line}"
    );
}

#[test]
fn more_verbose_with_vv_and_names_for_listen() {
    let p1mux = P1mux::spawn(
        &["serve", "-vv", "--demo", "--listen", "localhost:0"],
        |cmd| {
            cmd.env_remove("RUST_LOG");
        },
    );
    let port = p1mux.port();
    let mut client = connect(port);
    let first = read_exact(&mut client, 1);
    assert_eq!(first, b"/");
    // -vv is p1mux's own trace, not that of every crate below it.
    let log = p1mux.log_text();
    assert!(!log.contains("registering event source"), "{log}");
}

#[test]
fn settings_are_logged_as_users_write_them() {
    let pty = Pty::open();
    let device = pty.slave_path.to_str().unwrap().to_string();
    let p1mux = P1mux::serve(&["--device", &device, "--baud", "9600", "--framing", "8n1"]);
    let line = p1mux.wait_for(&format!("opened {device}"));
    assert!(line.ends_with("(9600 8N1)"), "{line}");
}

/// Writes `text` to `name` in `dir` (mode 600) and returns its path.
fn config_file(dir: &TempDir, name: &str, text: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn a_wrong_config_file_names_its_file_line_and_key() {
    let dir = TempDir::new("config");
    for (text, says) in [
        (
            "demo = true\nbogus = 1\n",
            "p1mux.toml line 2, key 'bogus': no such option",
        ),
        (
            "demo = true\n\nmax-clients = \"lots\"\n",
            "p1mux.toml line 3, key 'max-clients': expected a whole number, found text",
        ),
        (
            "demo = true\nbaud = 57600\n",
            "p1mux.toml line 2, key 'baud': bad baud rate '57600'",
        ),
        (
            "demo = true\nmax-clients = 0\n",
            "p1mux.toml line 2, key 'max-clients': --max-clients must be at least 1",
        ),
        ("demo = \n", "p1mux.toml line 1: not valid TOML"),
    ] {
        let path = config_file(&dir, "p1mux.toml", text);
        let (status, out) = run(&["serve", "--config", &path]);
        assert_eq!(status, Some(2), "{text}: {out}");
        assert!(out.contains(says), "{text:?} should say {says:?}: {out}");
        assert!(out.starts_with("p1mux serve: /"), "{out}");
    }
}

#[test]
fn home_assistant_options_json_runs_and_the_command_line_wins() {
    let dir = TempDir::new("config");
    // As the add-on's options.json: unset options null, a port the
    // command line replaces.
    let path = config_file(
        &dir,
        "options.json",
        r#"{"device":"demo","listen":["127.0.0.1:1"],"mqtt":null,"no-replay":false,"verbose":0}"#,
    );
    let p1mux = P1mux::spawn(
        &["serve", "--config", &path, "--listen", "127.0.0.1:0"],
        |_| {},
    );
    let mut client = connect(p1mux.port());
    assert_eq!(read_exact(&mut client, 1), b"/");
}
