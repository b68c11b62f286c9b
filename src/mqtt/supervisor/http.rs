//! The one HTTP request p1mux makes as a client: `GET` on the Supervisor,
//! blocking, with a timeout on every step. It runs once, at start, before
//! the loop; never in the data path.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::net::addr::HostPort;

/// An answer longer than this is no service description.
const MAX_ANSWER: u64 = 64 * 1024;

/// Where the Supervisor is: `http://HOST[:PORT]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Base {
    pub host: String,
    pub port: u16,
}

impl Base {
    /// Parses `http://HOST[:PORT]` (port 80), a trailing '/' allowed.
    pub fn parse(url: &str) -> Option<Base> {
        let rest = url.strip_prefix("http://")?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let split = HostPort::parse(rest).ok()?;
        Some(Base {
            host: split.host.to_string(),
            port: match split.port {
                Some(0) => return None,
                port => port.unwrap_or(80),
            },
        })
    }
}

/// What came back: the status code and the body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why no answer came: connecting, sending or reading failed, or what came
/// back is not HTTP. All of these may pass, unlike an answer.
pub type Failure = String;

/// `GET path` with `Authorization: Bearer token`, each step within `timeout`.
pub fn get(base: &Base, path: &str, token: &str, timeout: Duration) -> Result<Response, Failure> {
    let addrs: Vec<_> = (base.host.as_str(), base.port)
        .to_socket_addrs()
        .map_err(|e| format!("looking up {}: {e}", base.host))?
        .collect();
    let mut last = format!("{} has no address", base.host);
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = format!("connecting to {addr}: {e}"),
        }
    }
    let mut stream = stream.ok_or(last)?;
    let io = |e: io::Error| format!("talking to {}:{}: {e}", base.host, base.port);
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let host = if base.host.contains(':') {
        format!("[{}]", base.host)
    } else {
        base.host.clone()
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Accept: application/json\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(io)?;
    // Read until the answer is whole: a server that keeps the connection
    // open despite `Connection: close` is not waited out.
    let mut raw = Vec::new();
    let mut buf = [0; 4096];
    loop {
        let n = stream.read(&mut buf).map_err(io)?;
        raw.extend_from_slice(&buf[..n]);
        if raw.len() as u64 > MAX_ANSWER {
            return Err(format!("its answer is longer than {MAX_ANSWER} bytes"));
        }
        if let Some(response) = parse_response(&raw, n == 0)? {
            return Ok(response);
        }
    }
}

/// A response: status and body, by Content-Length, chunked, or up to the
/// end (`at_end`: the connection closed). None while more is to come.
pub fn parse_response(raw: &[u8], at_end: bool) -> Result<Option<Response>, Failure> {
    let short = |why: &str| {
        if at_end {
            Err(why.to_string())
        } else {
            Ok(None)
        }
    };
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let head = match response.parse(raw) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return short("the answer ends inside its head"),
        Err(e) => return Err(format!("the answer is not HTTP: {e}")),
    };
    let status = response.code.unwrap_or(0);
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .map(str::trim)
    };
    let rest = &raw[head..];
    let chunked = header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        match dechunk(rest)? {
            Some(body) => body,
            None => return short("the answer ends inside a chunk"),
        }
    } else if let Some(length) = header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| format!("a bad Content-Length '{length}'"))?;
        match rest.get(..length) {
            Some(body) => body.to_vec(),
            None => return short("the answer ends before its Content-Length"),
        }
    } else if at_end {
        rest.to_vec()
    } else {
        return Ok(None);
    };
    Ok(Some(Response { status, body }))
}

/// A chunked body, joined; None while its last chunk is still to come.
fn dechunk(mut rest: &[u8]) -> Result<Option<Vec<u8>>, Failure> {
    let mut body = Vec::new();
    loop {
        let Some(end) = memchr::memmem::find(rest, b"\r\n") else {
            return Ok(None);
        };
        let size = std::str::from_utf8(&rest[..end])
            .ok()
            .map(|s| s.split(';').next().unwrap_or("").trim())
            .and_then(|s| usize::from_str_radix(s, 16).ok())
            .ok_or("a bad chunk size")?;
        rest = &rest[end + 2..];
        if size == 0 {
            return Ok(Some(body));
        }
        let Some(chunk) = rest.get(..size) else {
            return Ok(None);
        };
        body.extend_from_slice(chunk);
        let Some(after) = rest.get(size + 2..) else {
            return Ok(None);
        };
        rest = after;
    }
}
