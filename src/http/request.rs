//! One request head, parsed with httparse and reduced to what the routes
//! need, within limits that keep whatever a client sends small.

/// Longest request head (request line and headers) read. Browsers send
/// well under 2 KiB; more is a mistake or an attack, answered 431.
pub const MAX_HEAD: usize = 8 * 1024;
/// Most header lines in one request.
pub const MAX_HEADERS: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    /// GET without the body.
    Head,
    /// Anything else: answered 405.
    Other,
}

/// What a route needs to know about a request.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    /// The path without query or fragment, e.g. `/api/v1/data`.
    pub path: String,
    /// The client wants the connection kept open after the response
    /// (HTTP/1.1 unless `Connection: close`; HTTP/1.0 with `keep-alive`).
    pub keep_alive: bool,
    /// A body follows the head. None of our routes takes one, and it is
    /// never read: the connection closes after the response.
    pub has_body: bool,
}

/// The outcome of parsing what a connection has sent so far.
#[derive(Debug, PartialEq, Eq)]
pub enum Parse {
    /// A whole head, `len` bytes long.
    Complete(Request, usize),
    /// More bytes are needed.
    Partial,
    /// Malformed (400) or too big (431): answer with this status and close.
    Bad(u16),
}

/// Parses the request head at the start of `buf`.
pub fn parse(buf: &[u8]) -> Parse {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) if len <= MAX_HEAD => len,
        Ok(httparse::Status::Complete(_)) => return Parse::Bad(431),
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => return Parse::Bad(431),
        Ok(httparse::Status::Partial) => return Parse::Partial,
        Err(httparse::Error::TooManyHeaders) => return Parse::Bad(431),
        Err(_) => return Parse::Bad(400),
    };
    let method = match req.method {
        Some("GET") => Method::Get,
        Some("HEAD") => Method::Head,
        _ => Method::Other,
    };
    let Some(path) = req.path.and_then(origin_path) else {
        return Parse::Bad(400);
    };
    let mut keep_alive = req.version == Some(1);
    let mut has_body = false;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("connection") {
            for token in String::from_utf8_lossy(h.value).split(',') {
                let token = token.trim();
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    keep_alive = true;
                }
            }
        } else if h.name.eq_ignore_ascii_case("content-length") {
            match std::str::from_utf8(h.value).ok().map(str::trim) {
                Some(n) if n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty() => {
                    has_body |= n.bytes().any(|b| b != b'0');
                }
                _ => return Parse::Bad(400),
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            has_body = true;
        }
    }
    Parse::Complete(
        Request {
            method,
            path,
            keep_alive,
            has_body,
        },
        len,
    )
}

/// `/a/b?x#y` -> `/a/b`; the absolute form a proxy sends
/// (`http://host/a/b`) -> `/a/b`; anything else (`*`, garbage) -> None.
fn origin_path(target: &str) -> Option<String> {
    let target = match target.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => {
            &rest[rest.find('/').unwrap_or(rest.len())..]
        }
        Some(_) => return None,
        None => target,
    };
    let path = target.split(['?', '#']).next().unwrap_or_default();
    match path {
        "" => Some("/".to_string()),
        p if p.starts_with('/') => Some(p.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(raw: &str) -> Request {
        match parse(raw.as_bytes()) {
            Parse::Complete(req, len) => {
                assert_eq!(len, raw.len());
                req
            }
            other => panic!("{raw:?}: {other:?}"),
        }
    }

    #[test]
    fn requests() {
        let r = complete("GET /api/v1/data?x=1 HTTP/1.1\r\nHost: p1\r\n\r\n");
        assert_eq!(r.method, Method::Get);
        assert_eq!(r.path, "/api/v1/data");
        assert!(r.keep_alive && !r.has_body);
        let r = complete("HEAD / HTTP/1.0\r\n\r\n");
        assert_eq!((r.method, r.keep_alive), (Method::Head, false));
        let r = complete("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
        assert!(r.keep_alive);
        let r = complete("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n");
        assert!(!r.keep_alive);
        let r = complete("POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\n");
        assert_eq!((r.method, r.has_body), (Method::Other, true));
        let r = complete("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        assert!(!r.has_body);
        let r = complete("GET http://p1mux.local:8080/metrics HTTP/1.1\r\n\r\n");
        assert_eq!(r.path, "/metrics");
        assert_eq!(complete("GET http://p1mux HTTP/1.1\r\n\r\n").path, "/");
    }

    #[test]
    fn partial_bad_and_too_big() {
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost: x\r\n"), Parse::Partial);
        assert_eq!(parse(b""), Parse::Partial);
        assert_eq!(parse(b"GET / HTTP/1.1 x\r\n\r\n"), Parse::Bad(400));
        assert_eq!(parse(b"\x00\x01\x02\r\n\r\n"), Parse::Bad(400));
        assert_eq!(parse(b"GET * HTTP/1.1\r\n\r\n"), Parse::Bad(400));
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
            Parse::Bad(400)
        );
        let long = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD));
        assert_eq!(parse(long.as_bytes()), Parse::Bad(431));
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "A: b\r\n".repeat(MAX_HEADERS + 1)
        );
        assert_eq!(parse(many.as_bytes()), Parse::Bad(431));
    }

    #[test]
    fn pipelined_heads_parse_one_at_a_time() {
        let two = b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
        let Parse::Complete(first, len) = parse(two) else {
            panic!()
        };
        assert_eq!(first.path, "/a");
        assert!(matches!(parse(&two[len..]), Parse::Complete(r, _) if r.path == "/b"));
    }
}
