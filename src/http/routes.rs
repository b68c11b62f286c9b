//! What each path answers, from what the HTTP output knows.
//!
//! | path               | answer                                           |
//! |--------------------|--------------------------------------------------|
//! | `/`                | the status page (`page.html`)                    |
//! | `/api`             | HomeWizard's device information ([`crate::homewizard`]) |
//! | `/api/v1/data`     | the last telegram in HomeWizard's shape, 503 when stale |
//! | `/api/v1/telegram` | the last valid telegram, as text (HomeWizard's)  |
//! | `/api/v1/reading`  | its values in p1mux's JSON ([`crate::json::state`]) |
//! | `/api/v1/status`   | the gateway's health ([`super::status_json`])    |
//! | `/api/v1/power`    | net power over the last hour, for the chart      |
//! | `/events`          | server-sent events: `telegram`, `status`         |
//! | `/metrics`         | Prometheus exposition ([`super::metrics`])       |
//!
//! The API answers 503 until there is something to say (no telegram yet,
//! in the first second no status), as HomeWizard's does without a telegram.

use std::rc::Rc;
use std::time::Instant;

use super::history::History;
use super::request::{Method, Request};
use super::response::{JSON, Response, TEXT};
use super::{metrics, status_json};
use crate::health::{OutputStatus, Status};
use crate::homewizard::HomeWizard;
use crate::telegram::Reading;

const PAGE: &str = include_str!("page.html");

/// The page's rules for the browser: nothing loads from elsewhere. It may
/// be framed by its own origin only: Home Assistant's Ingress shows it in an
/// iframe of the same origin, under a path prefix (so the page's URLs are
/// relative); any other site still cannot frame it.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
     style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'self'";

/// Everything the routes read.
pub struct State {
    pub last: Option<Last>,
    /// The latest snapshot; None in the first second.
    pub status: Option<Status>,
    pub history: History,
    /// `/api` and `/api/v1/data`.
    pub homewizard: HomeWizard,
    page: Rc<[u8]>,
}

/// The last valid telegram, in the forms the routes serve.
pub struct Last {
    pub bytes: Rc<[u8]>,
    /// [`crate::json::state`] of it, written once for every output.
    pub data: Rc<str>,
    pub reading: Rc<Reading>,
}

impl State {
    /// `source`: the source's name, for the HomeWizard identity of a meter
    /// that sends no equipment id.
    pub fn new(source: &str) -> State {
        State {
            last: None,
            status: None,
            history: History::default(),
            homewizard: HomeWizard::new(source),
            page: Rc::from(PAGE.as_bytes()),
        }
    }
}

pub enum Answer {
    Response(Response),
    /// Turn the connection into an event stream.
    Events,
}

/// The answer to `req`; `http` is the HTTP output's live status.
pub fn answer(req: &Request, state: &State, http: &OutputStatus, now: Instant) -> Answer {
    if req.method == Method::Other {
        return Answer::Response(
            Response::text(405, "only GET and HEAD are served here").header("Allow", "GET, HEAD"),
        );
    }
    let api = |r: Response| Answer::Response(r.header("Access-Control-Allow-Origin", "*"));
    let no_telegram = || Response::text(503, "no valid telegram yet").header("Retry-After", "1");
    let starting = || Response::text(503, "starting").header("Retry-After", "1");
    match req.path.as_str() {
        "/" | "/index.html" => Answer::Response(
            Response::new(200, "text/html; charset=utf-8", state.page.clone())
                .header("Content-Security-Policy", PAGE_POLICY)
                .header("Referrer-Policy", "no-referrer"),
        ),
        "/api/v1/telegram" => api(match &state.last {
            Some(last) => Response::new(200, TEXT, last.bytes.clone()),
            None => no_telegram(),
        }),
        "/api" => api(homewizard(state.homewizard.device())),
        "/api/v1/data" => api(homewizard(state.homewizard.data(now))),
        "/api/v1/reading" => api(match &state.last {
            Some(last) => Response::new(200, JSON, Rc::from(last.data.clone())),
            None => no_telegram(),
        }),
        "/api/v1/status" => api(match &state.status {
            Some(s) => json(status_json::render(s, http, now)),
            None => starting(),
        }),
        "/api/v1/power" => api(json(state.history.json(now))),
        "/metrics" => {
            let reading = state.last.as_ref().map(|l| &*l.reading);
            let text = metrics::render(state.status.as_ref(), http, reading, now);
            Answer::Response(Response::new(
                200,
                metrics::CONTENT_TYPE,
                text.into_bytes().into(),
            ))
        }
        "/events" if req.method == Method::Get => Answer::Events,
        "/events" => Answer::Response(Response::new(200, "text/event-stream", Rc::from(&b""[..]))),
        _ => Answer::Response(Response::text(
            404,
            "no such page: try / or /api/v1/reading",
        )),
    }
}

/// A HomeWizard answer; a 503 says when to ask again, as ours always do.
fn homewizard((status, body): (u16, Rc<[u8]>)) -> Response {
    let response = Response::new(status, JSON, body);
    if status == 503 {
        response.header("Retry-After", "1")
    } else {
        response
    }
}

fn json(body: String) -> Response {
    Response::new(200, JSON, body.into_bytes().into())
}
