//! Responses: a status, a content type, a shared body, and the head that
//! goes before it.

use std::fmt::Write as _;
use std::rc::Rc;

/// One response, its body shared (the page, a telegram) rather than copied.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Rc<[u8]>,
    /// Further header lines, each ending in CRLF.
    pub headers: String,
}

pub const TEXT: &str = "text/plain; charset=utf-8";
pub const JSON: &str = "application/json";

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: Rc<[u8]>) -> Response {
        Response {
            status,
            content_type,
            body,
            headers: String::new(),
        }
    }

    /// A short plain-text answer, for errors and "not yet".
    pub fn text(status: u16, message: &str) -> Response {
        Response::new(status, TEXT, format!("{message}\n").into_bytes().into())
    }

    pub fn header(mut self, name: &str, value: &str) -> Response {
        let _ = write!(self.headers, "{name}: {value}\r\n");
        self
    }

    /// The status line and headers; `close` announces that the connection
    /// ends after this response.
    pub fn head(&self, close: bool) -> Vec<u8> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
             Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n{}",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len(),
            self.headers,
        );
        if close {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        head.into_bytes()
    }
}

/// The head that opens an event stream. No length: the stream is the
/// rest of the connection.
pub fn event_stream_head() -> &'static [u8] {
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\
      X-Accel-Buffering: no\r\nAccess-Control-Allow-Origin: *\r\n\r\n"
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads() {
        let r = Response::text(404, "no such page").header("X-A", "b");
        let head = String::from_utf8(r.head(true)).unwrap();
        assert!(head.starts_with("HTTP/1.1 404 Not Found\r\n"), "{head}");
        assert!(head.contains("Content-Length: 13\r\n"), "{head}");
        assert!(
            head.ends_with("X-A: b\r\nConnection: close\r\n\r\n"),
            "{head}"
        );
        let ok = String::from_utf8(Response::text(200, "").head(false)).unwrap();
        assert!(!ok.contains("Connection"), "{ok}");
    }
}
