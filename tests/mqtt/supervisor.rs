//! `--mqtt homeassistant`: a fake Supervisor in the test (one HTTP answer
//! on loopback, found through P1MUX_SUPERVISOR_URL, the override for tests)
//! names a real mosquitto that takes only the user and password it gave;
//! p1mux must publish there with them, and never show the password.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use crate::broker::{self, Sub, Tools};
use crate::common::*;

const TOKEN: &str = "0123456789abcdef-test-token";
const USER: &str = "addons";
const PASSWORD: &str = "Ohf6ieZae5ahf4eiph4w";

/// A Supervisor that answers one request with `status` and `body`; the
/// request it got comes out of the receiver.
fn fake_supervisor(status: &'static str, body: String) -> (String, Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let request = read_head(&mut stream);
        let answer = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(answer.as_bytes());
        let _ = tx.send(request);
    });
    (url, rx)
}

fn read_head(stream: &mut TcpStream) -> String {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut head = Vec::new();
    let mut buf = [0; 1024];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// `p1mux serve --listen 127.0.0.1:0 ARGS`, the Supervisor at `url`.
fn spawn(args: &[&str], url: &str, token: Option<&str>) -> P1mux {
    let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let (url, token) = (url.to_string(), token.map(str::to_string));
    P1mux::spawn(&all, move |cmd| {
        cmd.env("P1MUX_SUPERVISOR_URL", url);
        match token {
            Some(token) => cmd.env("SUPERVISOR_TOKEN", token),
            None => cmd.env_remove("SUPERVISOR_TOKEN"),
        };
    })
}

/// The Mosquitto add-on's case: the broker wants a login, the Supervisor
/// gives it, p1mux publishes with it. Started as the add-on starts it: from
/// its options.json, the form's cleared password an empty text.
pub fn publishes_with_the_supervisors_login(tools: &Tools) {
    let dir = TempDir::new("mqtt-supervisor");
    let broker = broker::mosquitto_with_login(tools, &dir.0, USER, PASSWORD);
    let body = format!(
        r#"{{"result": "ok", "data": {{"host": "127.0.0.1", "port": {}, "ssl": false,
            "protocol": "3.1.1", "username": "{USER}", "password": "{PASSWORD}",
            "addon": "core_mosquitto"}}}}"#,
        broker.port
    );
    let (url, request) = fake_supervisor("200 OK", body);
    let sub = Sub::start(
        tools,
        broker.port,
        &["p1mux/#"],
        &["-u", USER, "-P", PASSWORD],
    );
    let mut pty = Pty::open();
    let device = pty.slave_path.to_str().unwrap().to_string();
    let options = dir.0.join("options.json");
    let json = format!(
        r#"{{"device": "{device}", "baud": "auto", "framing": "auto",
            "mqtt": "homeassistant", "mqtt-password": "", "key": null}}"#
    );
    std::fs::write(&options, json).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&options, std::fs::Permissions::from_mode(0o600)).unwrap();
    let p1mux = spawn(&["--config", options.to_str().unwrap()], &url, Some(TOKEN));
    let request = request.recv_timeout(PATIENCE).expect("p1mux asked");
    assert!(
        request.starts_with("GET /services/mqtt HTTP/1.1\r\n")
            && request.contains(&format!("\r\nAuthorization: Bearer {TOKEN}\r\n")),
        "{request}"
    );
    let said = p1mux.wait_for("from the Supervisor");
    assert!(
        said.contains(&format!("mqtt://127.0.0.1:{} as {USER}", broker.port)),
        "{said}"
    );
    let tcp = p1mux.port();
    p1mux.wait_for(&format!("opened {device}"));
    p1mux.wait_for("mqtt: connected to");
    pty.write(crate::DSMR50);
    let state = sub.next(&format!("p1mux/{}/state", crate::DSMR50_ID));
    assert!(state.json()["values"].is_object(), "{}", state.text());
    // The raw clients are served as ever.
    let mut client = p1mux.connect(tcp);
    pty.write(crate::DSMR50);
    assert_eq!(read_exact(&mut client, crate::DSMR50.len()), crate::DSMR50);
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", p1mux.pid())).unwrap();
    let log = p1mux.log_text();
    for (place, text) in [("log", log.as_bytes()), ("command line", &cmdline[..])] {
        assert!(
            !String::from_utf8_lossy(text).contains(PASSWORD)
                && !String::from_utf8_lossy(text).contains(TOKEN),
            "the password or token is in the {place}:\n{log}"
        );
    }
}

/// No Mosquitto add-on, and outside an add-on: p1mux does not start, and
/// says what to do.
pub fn says_what_to_do_without_a_broker() {
    let (url, request) = fake_supervisor(
        "400 Bad Request",
        r#"{"result": "error", "message": "Service not enabled", "data": {}}"#.into(),
    );
    for (token, fix) in [
        (Some(TOKEN), "install the Mosquitto broker add-on"),
        (None, "only inside a Home Assistant add-on"),
    ] {
        let args = ["--device", "/dev/null", "--mqtt", "homeassistant"];
        let mut p1mux = spawn(&args, &url, token);
        let exit = p1mux.wait_exit(PATIENCE).expect("p1mux does not start");
        let log = p1mux.log_text();
        assert_eq!(exit.code(), Some(1), "{log}");
        assert!(
            log.contains(fix) && log.contains("or give --mqtt mqtt://"),
            "{log}"
        );
        assert!(!log.contains("listening"), "nothing opened first:\n{log}");
    }
    request
        .recv_timeout(Duration::ZERO)
        .expect("asked once, with the token");
}
