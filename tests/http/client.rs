//! A small HTTP/1.1 and server-sent-events client for the HTTP output's
//! tests, and p1mux started with a pty meter and `--http`.
#![allow(dead_code)] // tests/http.rs and tests/http_tools.rs use different parts

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use crate::common::{P1mux, PATIENCE, Pty};
use p1mux::framer::crc16;

/// p1mux with a pty meter, a raw port and an HTTP port.
pub struct Gateway {
    pub p1mux: P1mux,
    pub pty: Pty,
    pub raw: u16,
    pub http: u16,
}

pub fn start(args: &[&str]) -> Gateway {
    let pty = Pty::open();
    let device = pty.slave_path.to_str().unwrap().to_string();
    let mut all = vec!["--device", device.as_str(), "--http", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let p1mux = P1mux::serve(&all);
    let raw = p1mux.port();
    let line = p1mux.wait_for("status page: http://127.0.0.1:");
    let http = line
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .expect("port in the status page line");
    p1mux.wait_for(&format!("opened {device}"));
    Gateway {
        p1mux,
        pty,
        raw,
        http,
    }
}

/// [`start`], and a client of the raw port that p1mux has seen connect:
/// p1mux, the meter, that client and the HTTP port.
pub fn start_with_raw_client(args: &[&str]) -> (P1mux, Pty, TcpStream, u16) {
    let Gateway {
        p1mux,
        pty,
        raw,
        http,
    } = start(args);
    let raw_client = p1mux.connect(raw);
    (p1mux, pty, raw_client, http)
}

/// One response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub fn connect(port: u16) -> TcpStream {
    crate::common::connect(port)
}

/// `GET path` on a connection of its own.
pub fn get(port: u16, path: &str) -> Reply {
    let mut s = connect(port);
    write!(s, "GET {path} HTTP/1.1\r\nHost: p1mux\r\n\r\n").unwrap();
    read_reply(&mut BufReader::new(&mut s), true)
}

/// Reads one response; `body` is false for the answer to HEAD.
pub fn read_reply(r: &mut impl BufRead, body: bool) -> Reply {
    let mut line = String::new();
    r.read_line(&mut line).expect("reading the status line");
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).expect("reading a header");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').expect("header with a colon");
        headers.push((name.to_string(), value.trim().to_string()));
    }
    let mut reply = Reply {
        status,
        headers,
        body: Vec::new(),
    };
    if body {
        let len: usize = reply
            .header("content-length")
            .expect("Content-Length")
            .parse()
            .unwrap();
        reply.body = vec![0; len];
        r.read_exact(&mut reply.body).expect("reading the body");
    }
    reply
}

/// An open `/events` stream.
pub struct Events {
    reader: BufReader<TcpStream>,
}

impl Events {
    pub fn open(port: u16) -> Events {
        let mut s = connect(port);
        s.write_all(b"GET /events HTTP/1.1\r\nHost: p1mux\r\n\r\n")
            .unwrap();
        let mut reader = BufReader::new(s);
        let mut head = String::new();
        while !head.ends_with("\r\n\r\n") {
            let n = reader
                .read_line(&mut head)
                .expect("reading the stream head");
            assert!(n > 0, "stream closed in its head: {head}");
        }
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.contains("Content-Type: text/event-stream"), "{head}");
        Events { reader }
    }

    /// The data of the next event called `name` (others are skipped),
    /// within PATIENCE.
    pub fn next(&mut self, name: &str) -> String {
        let (mut event, mut data) = (String::new(), String::new());
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            assert!(std::time::Instant::now() < deadline, "no {name} event");
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).expect("reading an event");
            assert!(n > 0, "event stream closed");
            let line = line.trim_end_matches('\n');
            if line.is_empty() {
                if event == name {
                    return data;
                }
                (event, data) = (String::new(), String::new());
            } else if let Some(e) = line.strip_prefix("event: ") {
                event = e.to_string();
            } else if let Some(d) = line.strip_prefix("data: ") {
                data.push_str(d);
            }
        }
    }
}

/// `sample` with its `1-0:1.7.0` (power delivered) set to `kw` (e.g.
/// "01.193") and the CRC made right again.
pub fn with_power(sample: &[u8], kw: &str) -> Vec<u8> {
    with_values(sample, &[("1-0:1.7.0", &format!("{kw}*kW"))])
}

/// `sample` with the value of each given OBIS line replaced, and the CRC
/// made right again.
pub fn with_values(sample: &[u8], values: &[(&str, &str)]) -> Vec<u8> {
    let text = String::from_utf8_lossy(sample);
    let bang = text.rfind('!').expect("a '!' line");
    let body: String = text[..=bang]
        .split_inclusive('\n')
        .map(|line| {
            let found = values
                .iter()
                .find(|(obis, _)| line.starts_with(&format!("{obis}(")));
            match found {
                Some((obis, value)) => format!("{obis}({value})\r\n"),
                None => line.to_string(),
            }
        })
        .collect();
    for (obis, value) in values {
        assert!(body.contains(&format!("{obis}({value})")), "no {obis} line");
    }
    format!("{body}{:04X}\r\n", crc16(body.as_bytes())).into_bytes()
}
