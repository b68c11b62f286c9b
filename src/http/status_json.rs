//! `/api/v1/status`: the gateway's health as JSON, also sent to the page
//! as the `status` event.
//!
//! ```json
//! {"version": "0.1.0", "uptime_s": 3600, "ok": true,
//!  "source": {"name": "/dev/ttyUSB0", "kind": "serial", "up": true,
//!             "setting": "115200 8N1", "detection": "detected",
//!             "meter": "DSMR 5.0 meter /ISK5\\2M550T-1012"},
//!  "last_telegram_age_s": 0.4, "telegrams": 3598, "bytes_in": 3100000,
//!  "rejects": {"crc": 2, "truncated": 0, ...}, "rejects_total": 2,
//!  "outputs": [{"name": "raw", "clients": 2, "dropped": 0, "state": "1 address listening"},
//!              {"name": "http", "clients": 1, "dropped": 0, "state": "..."}]}
//! ```
//!
//! `setting`, `detection`, `meter`, `diagnosis` (the plain-words sentence
//! of the silence warning and `probe`) and `last_telegram_age_s` appear
//! only when known. `ok` is true while the source is up, nothing is
//! diagnosed, and a valid telegram came within [`STALE`].

use std::time::{Duration, Instant};

use crate::framer::Reject;
use crate::health::{OutputStatus, Status};
use crate::json::Writer;

/// A telegram older than this makes the gateway not ok: DSMR 2.2-4 meters
/// send every 10 s, DSMR 5 every second.
pub const STALE: Duration = Duration::from_secs(60);

/// The status JSON at `now`, with `http` (the HTTP output's live status)
/// in place of the snapshot's.
pub fn render(s: &Status, http: &OutputStatus, now: Instant) -> String {
    let age = s.last_telegram.map(|at| now.saturating_duration_since(at));
    let src = &s.source;
    let ok = src.up && src.diagnosis.is_none() && age.is_some_and(|a| a < STALE);
    let mut w = Writer::new();
    w.begin_object();
    w.key("version").string(s.version);
    let uptime = now.saturating_duration_since(s.started).as_secs();
    w.key("uptime_s").number(uptime as f64);
    w.key("ok").bool(ok);
    w.key("source").begin_object();
    w.key("name").string(&src.name);
    w.key("kind").string(src.kind);
    w.key("up").bool(src.up);
    let optional = [
        ("setting", src.setting.as_deref()),
        ("detection", src.detection),
        ("meter", src.meter.as_deref()),
        ("diagnosis", src.diagnosis.as_deref()),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            w.key(key).string(value);
        }
    }
    w.end_object();
    if let Some(age) = age {
        let tenths = (age.as_secs_f64() * 10.0).round() / 10.0;
        w.key("last_telegram_age_s").number(tenths);
    }
    w.key("telegrams").number(s.stats.telegrams as f64);
    w.key("telegrams_cr_restored")
        .number(s.stats.cr_restored as f64);
    w.key("bytes_in").number(s.stats.bytes_in as f64);
    w.key("rejects").begin_object();
    for reason in Reject::ALL {
        w.key(reason.name())
            .number(s.stats.rejects[reason.index()] as f64);
    }
    w.end_object();
    w.key("rejects_total")
        .number(s.stats.rejects_total() as f64);
    w.key("outputs").begin_array();
    for o in &s.outputs {
        let o = if o.name == http.name { http } else { o };
        w.begin_object();
        w.key("name").string(o.name);
        w.key("clients").number(o.clients as f64);
        w.key("dropped").number(o.dropped as f64);
        w.key("state").string(&o.state);
        w.end_object();
    }
    w.end_array();
    w.end_object();
    w.finish()
}
