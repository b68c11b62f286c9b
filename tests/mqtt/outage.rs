//! When the broker is not what it should be: killed mid-stream, refusing
//! the password, behind TLS, or not there at all.

use std::time::{Duration, Instant};

use crc::{CRC_16_ARC, Crc};

use crate::broker::{self, Sub, Tools};
use crate::common::*;
use crate::{DSMR50, start};

/// DSMR50 with its own time stamp and CRC: telegram `n` of a stream.
pub fn stamped(n: usize) -> Vec<u8> {
    let text = std::str::from_utf8(DSMR50).unwrap();
    let stamp = format!("0-0:1.0.0(20042622{:02}{:02}S)", n / 60 % 60, n % 60);
    let text = text.replacen("0-0:1.0.0(200426223325S)", &stamp, 1);
    let body = &text[..=text.find('!').unwrap()];
    let crc = Crc::<u16>::new(&CRC_16_ARC).checksum(body.as_bytes());
    format!("{body}{crc:04X}\r\n").into_bytes()
}

fn wait_for_file(path: &std::path::Path) {
    let deadline = Instant::now() + PATIENCE;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn broker_killed_mid_stream(tools: &Tools) {
    let dir = TempDir::new("mqtt-outage");
    let persistence = format!(
        "persistence true\npersistence_location {}/\nautosave_interval 1\nautosave_on_changes true\n",
        dir.0.display()
    );
    let mut broker = broker::mosquitto(tools, &dir.0, &persistence);
    let topic = "p1mux/m/telegram";
    // A collector with a persistent session: while it is away the broker
    // keeps its QoS 1 messages, across the broker's restart too.
    let collector = ["-c", "-i", "collector", "-q", "1"];
    let sub = Sub::start(tools, broker.port, &[topic], &collector);
    wait_for_file(&dir.0.join("mosquitto.db"));
    let (p1mux, mut pty, tcp) = start(
        broker.port,
        &["--mqtt-id", "m", "--mqtt-qos", "1", "--no-mqtt-discovery"],
    );
    let mut client = p1mux.connect(tcp);
    let telegrams: Vec<Vec<u8>> = (0..12).map(stamped).collect();
    for t in &telegrams[..3] {
        pty.write(t);
        assert!(read_exact(&mut client, t.len()) == *t);
        assert!(sub.next(topic).payload == *t);
    }
    drop(sub);
    broker.kill();
    p1mux.wait_for("reconnecting, and keeping the newest telegrams");
    // The TCP clients lose nothing while the broker is away.
    for t in &telegrams[3..8] {
        pty.write(t);
        assert!(
            read_exact(&mut client, t.len()) == *t,
            "a TCP client lost a telegram"
        );
    }
    broker.restart().unwrap_or_else(|e| panic!("{e}"));
    p1mux.wait_longer_for("mqtt: connected to", Duration::from_secs(30));
    let sub = Sub::start(tools, broker.port, &[topic], &collector);
    for t in &telegrams[8..] {
        pty.write(t);
        assert!(read_exact(&mut client, t.len()) == *t);
    }
    // Everything from the outage on arrives, in order (QoS 1 may repeat).
    let mut got: Vec<Vec<u8>> = Vec::new();
    while got.last() != telegrams.last() {
        let m = sub.next(topic);
        if got.last() != Some(&m.payload) {
            got.push(m.payload);
        }
    }
    let stamp = |t: &Vec<u8>| {
        let text = String::from_utf8_lossy(t);
        let at = text.find("0-0:1.0.0(").unwrap_or(0);
        text[at..at + 23].to_string()
    };
    let start = got
        .iter()
        .position(|g| *g == telegrams[3])
        .unwrap_or_else(|| {
            let got: Vec<String> = got.iter().map(stamp).collect();
            panic!(
                "the outage's first telegram is missing: got {got:?}\n{}",
                p1mux.log_text()
            )
        });
    assert!(
        got[start..] == telegrams[3..],
        "telegrams missing or out of order after the outage"
    );
    p1mux.signal(libc::SIGUSR1);
    let stats = p1mux.wait_for("stats:");
    assert!(
        stats.contains("mqtt: connected to") && stats.contains("dropped 0"),
        "{stats}"
    );
}

pub fn wrong_password(tools: &Tools) {
    let dir = TempDir::new("mqtt-password");
    let broker = broker::mosquitto_with_login(tools, &dir.0, "p1mux", "right horse battery");
    let url = format!("mqtt://p1mux@127.0.0.1:{}", broker.port);
    let wrong = dir.0.join("wrong");
    std::fs::write(&wrong, "wrong staple\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
    let pty = Pty::open();
    let device = pty.slave_path.to_str().unwrap().to_string();
    let mut pty = pty;
    let wrong_arg = wrong.to_str().unwrap();
    let p1mux = P1mux::serve(&[
        "--device",
        &device,
        "--mqtt",
        &url,
        "--mqtt-password-file",
        wrong_arg,
    ]);
    let tcp = p1mux.port();
    let first = p1mux.wait_for("refused the connection");
    assert!(
        first.contains(" WARN ") && first.contains("check the user name"),
        "{first}"
    );
    // Retried, quietly, and the meter's telegrams keep flowing.
    let again = p1mux.wait_for("refused the connection");
    assert!(again.contains(" DEBUG "), "{again}");
    let mut client = p1mux.connect(tcp);
    pty.write(DSMR50);
    assert_eq!(read_exact(&mut client, DSMR50.len()), DSMR50);
    let log = p1mux.log_text();
    let loud = log
        .lines()
        .filter(|l| l.contains("refused") && !l.contains(" DEBUG "))
        .count();
    assert_eq!(loud, 1, "one clear line per outage:\n{log}");
    assert!(
        !log.contains("wrong staple"),
        "the password is never logged"
    );
    // The right password, in a file others can read: a warning, and in.
    let right = dir.0.join("right");
    std::fs::write(&right, "right horse battery\n").unwrap();
    std::fs::set_permissions(&right, std::fs::Permissions::from_mode(0o644)).unwrap();
    let sub = Sub::start(
        tools,
        broker.port,
        &["p1mux/#"],
        &["-u", "p1mux", "-P", "right horse battery"],
    );
    let right_arg = right.to_str().unwrap();
    let (p1mux, mut pty, _) = start_as(&url, &["--mqtt-password-file", right_arg]);
    assert!(p1mux.log_text().contains("can be read by other users"));
    pty.write(DSMR50);
    sub.next(&format!("p1mux/{}/state", crate::DSMR50_ID));
}

/// [`start`] with a broker URL of its own.
fn start_as(url: &str, extra: &[&str]) -> (P1mux, Pty, u16) {
    let pty = Pty::open();
    let device = pty.slave_path.to_str().unwrap().to_string();
    let mut args = vec!["--device", &device, "--mqtt", url];
    args.extend_from_slice(extra);
    let p1mux = P1mux::serve(&args);
    let tcp = p1mux.port();
    p1mux.wait_for("mqtt: connected to");
    (p1mux, pty, tcp)
}

pub fn tls((tools, openssl): &(Tools, std::path::PathBuf)) {
    let dir = TempDir::new("mqtt-tls");
    let (ca, cert, key) = broker::make_certificates(openssl, &dir.0);
    let tls_port = net::free_port().expect("a free port");
    let extra = format!(
        "listener {tls_port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n",
        ca.display(),
        cert.display(),
        key.display()
    );
    let broker = broker::mosquitto(tools, &dir.0, &extra);
    let sub = Sub::start(tools, broker.port, &["p1mux/#"], &[]);
    // By name: the lookup runs on a helper thread, and the certificate
    // must name localhost.
    let url = format!("mqtts://localhost:{tls_port}");
    let ca_arg = ca.to_str().unwrap();
    let (_p1mux, mut pty, _) = start_as(&url, &["--mqtt-ca", ca_arg, "--mqtt-id", "tls"]);
    pty.write(DSMR50);
    let state = sub.next("p1mux/tls/state").json();
    crate::checks::state_matches(DSMR50, &state);
    // The system's CAs do not know the test CA: one clear line, no exit.
    let pty = Pty::open();
    let device = pty.slave_path.to_str().unwrap().to_string();
    let mut pty = pty;
    let p1mux = P1mux::serve(&["--device", &device, "--mqtt", &url]);
    let tcp = p1mux.port();
    let line = p1mux.wait_for("mqtt: mqtts://localhost");
    assert!(
        line.contains("certificate") && line.contains("UnknownIssuer"),
        "{line}"
    );
    // MQTT never connected: nothing to reconnect to, nothing kept for it.
    assert!(
        !line.contains("reconnecting") && line.contains("retrying"),
        "{line}"
    );
    let mut client = p1mux.connect(tcp);
    pty.write(DSMR50);
    assert_eq!(read_exact(&mut client, DSMR50.len()), DSMR50);
    // mqtts:// to a plain MQTT port: the line says TLS may be why.
    let url = format!("mqtts://127.0.0.1:{}", broker.port);
    let pty = Pty::open();
    let device = pty.slave_path.to_str().unwrap();
    let p1mux = P1mux::serve(&["--device", device, "--mqtt", &url, "--mqtt-ca", ca_arg]);
    let line = p1mux.wait_for("mqtt: mqtts://127.0.0.1");
    eprintln!("mqtts:// to a plain port: {line}");
    assert!(
        line.contains(" WARN ") && line.contains("TLS") && !line.contains("reconnecting"),
        "{line}"
    );
}

pub fn no_broker() {
    let port = net::free_port().expect("a free port");
    let pty = Pty::open();
    let device = pty.slave_path.to_str().unwrap().to_string();
    let mut pty = pty;
    let url = format!("mqtt://127.0.0.1:{port}");
    let p1mux = P1mux::serve(&["--device", &device, "--mqtt", &url, "--mqtt-id", "m"]);
    let tcp = p1mux.port();
    let line = p1mux.wait_for("mqtt: mqtt://127.0.0.1");
    assert!(
        line.contains(" WARN ") && line.contains("refused"),
        "{line}"
    );
    let mut client = p1mux.connect(tcp);
    for n in 0..3 {
        let t = stamped(n);
        pty.write(&t);
        assert!(read_exact(&mut client, t.len()) == t);
    }
    p1mux.signal(libc::SIGUSR1);
    let stats = p1mux.wait_for("stats:");
    assert!(
        stats.contains("mqtt: not connected to")
            && stats.contains("published 0, queued 6, dropped 0"),
        "{stats}"
    );
}
