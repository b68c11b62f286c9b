//! Headless Chromium driven over the DevTools protocol: open a page, read
//! its live DOM, take a screenshot.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use crate::common::PATIENCE;

/// A browser showing one page; killed when dropped.
pub struct Browser {
    _child: Process,
    page: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl Browser {
    /// Starts Chromium on `url` with a throwaway profile in `profile`.
    pub fn launch(chromium: &Path, profile: &Path, url: &str) -> Browser {
        let mut child = Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
                "--window-size=1000,900",
                "--lang=en-GB",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting chromium");
        // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID"
        let stderr = BufReader::new(child.stderr.take().unwrap());
        // Killed even if starting fails from here on.
        let child = Process(child);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if let Some(rest) = line.split("ws://127.0.0.1:").nth(1) {
                    let _ = tx.send(rest.split('/').next().unwrap_or("").to_string());
                }
            }
        });
        let port: u16 = rx
            .recv_timeout(PATIENCE * 3)
            .expect("chromium never said where DevTools listen")
            .parse()
            .unwrap();
        let socket_url = page_socket(port);
        let (mut page, _) = tungstenite::connect(socket_url).expect("connecting to the page");
        if let MaybeTlsStream::Plain(s) = page.get_mut() {
            s.set_read_timeout(Some(PATIENCE)).unwrap();
        }
        Browser {
            _child: child,
            page,
            next_id: 0,
        }
    }

    /// Sends one command and returns its result.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({"id": id, "method": method, "params": params});
        self.page
            .send(Message::Text(msg.to_string().into()))
            .expect("sending to chromium");
        loop {
            let reply = self.page.read().expect("reading from chromium");
            let Message::Text(text) = reply else { continue };
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    /// `expression`'s value in the page, as a string.
    pub fn eval(&mut self, expression: &str) -> String {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": format!("String({expression})"), "returnByValue": true}),
        );
        r["result"]["value"]
            .as_str()
            .unwrap_or("<error>")
            .to_string()
    }

    /// Waits until `expression` is `want` (the DOM sends no signal for
    /// that, so this looks ten times a second).
    pub fn wait_for(&mut self, expression: &str, want: &str) {
        let deadline = Instant::now() + PATIENCE;
        let mut got = String::new();
        while Instant::now() < deadline {
            got = self.eval(expression);
            if got == want {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{expression} is {got:?}, not {want:?}");
    }

    /// The whole page, `width` CSS pixels wide (as a phone: `mobile`), as PNG.
    pub fn screenshot(&mut self, width: u32, mobile: bool) -> Vec<u8> {
        let size = |height: f64| json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile});
        // Lay the page out at this width first, then take all of its height.
        self.call("Emulation.setDeviceMetricsOverride", size(900.0));
        let metrics = self.call("Page.getLayoutMetrics", json!({}));
        let height = metrics["cssContentSize"]["height"]
            .as_f64()
            .unwrap_or(900.0)
            .ceil();
        self.call("Emulation.setDeviceMetricsOverride", size(height));
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        base64(shot["data"].as_str().expect("screenshot data"))
    }
}

/// The browser process, killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The page target's WebSocket URL, from `/json/list`.
fn page_socket(port: u16) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("DevTools HTTP");
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        // DevTools only answers a Host that is an IP address or localhost.
        write!(
            s,
            "GET /json/list HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
        )
        .unwrap();
        let reply = crate::client::read_reply(&mut BufReader::new(&mut s), true).text();
        let targets: Value = serde_json::from_str(&reply).unwrap_or(json!([]));
        let page = targets.as_array().and_then(|all| {
            all.iter()
                .find(|t| t["type"] == "page")
                .and_then(|t| t["webSocketDebuggerUrl"].as_str())
                .map(str::to_string)
        });
        match page {
            Some(url) => return url,
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            None => panic!("no page target: {reply}"),
        }
    }
}

/// Standard base64 (what DevTools sends screenshots in).
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text.bytes().filter(|&c| c != b'=').map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &d)| n | u32::from(d) << (18 - 6 * i));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}
