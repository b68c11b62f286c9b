//! A real mosquitto for the tests (p1mux_testkit::mosquitto: a free
//! loopback port, a config written to a temp dir), and mosquitto_sub as the
//! subscriber.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::mosquitto::Broker;
use crate::common::process::which;
use crate::common::{PATIENCE, net};

/// The programs of Debian's mosquitto and mosquitto-clients.
pub struct Tools {
    pub broker: PathBuf,
    pub sub: PathBuf,
    pub publish: PathBuf,
    pub passwd: PathBuf,
    /// mosquitto_sub buffers its output in a pipe: coreutils' stdbuf
    /// makes it line-buffered, so each message arrives when it does.
    pub stdbuf: PathBuf,
}

pub fn find_mosquitto() -> Result<Tools, String> {
    let find = |name: &str| which(name).ok_or_else(|| format!("{name} is not on PATH"));
    Ok(Tools {
        broker: find("mosquitto")?,
        sub: find("mosquitto_sub")?,
        publish: find("mosquitto_pub")?,
        passwd: find("mosquitto_passwd")?,
        stdbuf: find("stdbuf")?,
    })
}

/// mosquitto, and openssl to make a CA and a server certificate.
pub fn find_mosquitto_and_openssl() -> Result<(Tools, PathBuf), String> {
    let tools = find_mosquitto()?;
    let openssl = which("openssl").ok_or("openssl is not on PATH")?;
    Ok((tools, openssl))
}

/// Lines of a child's output, collected on a thread.
struct Lines {
    rx: Receiver<String>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Lines {
    fn new(streams: Vec<Box<dyn Read + Send>>) -> Lines {
        let (tx, rx) = channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        for stream in streams {
            let (tx, log) = (tx.clone(), log.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    log.lock().unwrap().push(line.clone());
                    let _ = tx.send(line);
                }
            });
        }
        Lines { rx, log }
    }
}

/// mosquitto on a port that was free, logging everything, with `extra`
/// config lines, its config in `dir`; killed when dropped.
/// A mosquitto in `dir` that lets in only `user` with `password`.
pub fn mosquitto_with_login(tools: &Tools, dir: &Path, user: &str, password: &str) -> Broker {
    let passwd = dir.join("passwd");
    let status = std::process::Command::new(&tools.passwd)
        .args(["-b", "-c"])
        .arg(&passwd)
        .args([user, password])
        .status()
        .unwrap();
    assert!(status.success());
    let extra = format!(
        "allow_anonymous false\npassword_file {}\n",
        passwd.display()
    );
    mosquitto(tools, dir, &extra)
}

pub fn mosquitto(tools: &Tools, dir: &Path, extra: &str) -> Broker {
    let port = net::free_port().expect("a free port");
    let extra = format!("log_type all\n{extra}");
    Broker::start(&tools.broker, dir, port, &extra, |_| {}).unwrap_or_else(|e| panic!("{e}"))
}

/// One message a subscriber got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub retain: bool,
    pub qos: u8,
    pub topic: String,
    pub payload: Vec<u8>,
}

impl Msg {
    pub fn text(&self) -> String {
        String::from_utf8(self.payload.clone()).expect("UTF-8 payload")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload)
            .unwrap_or_else(|e| panic!("{} is no JSON ({e}): {}", self.topic, self.text()))
    }
}

/// mosquitto_sub, subscribed; killed when dropped.
pub struct Sub {
    child: Child,
    rx: Receiver<Msg>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Sub {
    /// Subscribes to `filters` and waits for the SUBACK; `extra` are more
    /// mosquitto_sub arguments (`-q 1`, `-u`, `-c -i ID`).
    pub fn start(tools: &Tools, port: u16, filters: &[&str], extra: &[&str]) -> Sub {
        let mut cmd = Command::new(&tools.stdbuf);
        cmd.arg("-oL").arg(&tools.sub);
        cmd.args(["-d", "-h", "127.0.0.1", "-p", &port.to_string()])
            .args(["-F", "MSG %r %q %t %x"])
            .args(extra);
        for f in filters {
            cmd.args(["-t", f]);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting mosquitto_sub");
        let out: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
        let err: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
        let lines = Lines::new(vec![out, err]);
        let (tx, rx) = channel();
        let (subscribed, ready) = channel();
        let log = lines.log.clone();
        // Messages may come before the SUBACK (a persistent session's
        // queue): they are kept, not skipped.
        std::thread::spawn(move || {
            while let Ok(line) = lines.rx.recv() {
                if line.starts_with("Subscribed (mid") {
                    let _ = subscribed.send(());
                }
                let Some(rest) = line.strip_prefix("MSG ") else {
                    continue;
                };
                let mut parts = rest.splitn(4, ' ');
                let (r, q, t, x) = (parts.next(), parts.next(), parts.next(), parts.next());
                let msg = Msg {
                    retain: r == Some("1"),
                    qos: q.and_then(|q| q.parse().ok()).unwrap_or(9),
                    topic: t.unwrap_or_default().to_string(),
                    payload: unhex(x.unwrap_or_default()),
                };
                if tx.send(msg).is_err() {
                    return;
                }
            }
        });
        if ready.recv_timeout(PATIENCE).is_err() {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "mosquitto_sub never subscribed; it printed:\n{}",
                log.lock().unwrap().join("\n")
            );
        }
        Sub { child, rx, log }
    }

    /// The next message on `topic`, others skipped.
    pub fn next(&self, topic: &str) -> Msg {
        self.next_within(topic, PATIENCE).unwrap_or_else(|| {
            panic!(
                "no message on {topic}; mosquitto_sub printed:\n{}",
                self.log.lock().unwrap().join("\n")
            )
        })
    }

    pub fn next_within(&self, topic: &str, patience: Duration) -> Option<Msg> {
        let deadline = Instant::now() + patience;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(m) if m.topic == topic => return Some(m),
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            }
        }
    }
}

impl Drop for Sub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex payload"))
        .collect()
}

/// mosquitto_pub one message.
pub fn publish(tools: &Tools, port: u16, topic: &str, payload: &str) {
    let status = Command::new(&tools.publish)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            topic,
            "-m",
            payload,
        ])
        .status()
        .expect("running mosquitto_pub");
    assert!(status.success(), "mosquitto_pub failed");
}

/// Makes a CA and a certificate for localhost and 127.0.0.1 signed by it:
/// returns (ca.pem, server.pem, server.key).
pub fn make_certificates(openssl: &Path, dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new(openssl)
            .args(args)
            .current_dir(dir)
            .output()
            .expect("running openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=p1mux test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}
