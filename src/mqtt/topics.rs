//! What p1mux publishes for one meter, and where:
//!
//! - `PREFIX/ID/telegram`: the telegram, byte for byte as the TCP clients
//!   get it (not retained: a stream, not a state).
//! - `PREFIX/ID/state`: its values as JSON ([`crate::json::state`]) plus
//!   `received`, p1mux's own clock (retained: a dashboard that subscribes
//!   sees the last reading at once).
//! - `PREFIX/ID/availability`: `online` or `offline`, retained; the
//!   broker's last will for p1mux says `offline`.

use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::calendar::civil_from_days;
use crate::json;

pub const ONLINE: &str = "online";
pub const OFFLINE: &str = "offline";

/// The topics of one meter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    pub id: String,
    pub telegram: Rc<str>,
    pub state: Rc<str>,
    pub availability: Rc<str>,
}

impl Topics {
    pub fn new(prefix: &str, id: &str) -> Topics {
        Topics {
            id: id.to_string(),
            telegram: Rc::from(format!("{prefix}/{id}/telegram")),
            state: Rc::from(format!("{prefix}/{id}/state")),
            availability: Rc::from(format!("{prefix}/{id}/availability")),
        }
    }
}

/// The state JSON: the telegram's [`json::state`] (written once for every
/// output) with `received` first, when p1mux read the telegram (UTC, RFC
/// 3339, milliseconds). `time` stays the meter's own and is absent when
/// the meter sends none (DSMR 2.2 and 3.0): `received` is then the only
/// time there is, and says whose it is.
pub fn state(values: &str, received: SystemTime) -> String {
    json::with_first(values, "received", &utc(received))
}

/// `2026-03-29T01:59:59.250Z`.
pub fn utc(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, day_secs) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        day_secs / 3600,
        day_secs / 60 % 60,
        day_secs % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telegram::Reading;
    use std::time::Duration;

    #[test]
    fn utc_times() {
        let at = |secs: u64, ms: u64| utc(UNIX_EPOCH + Duration::from_millis(secs * 1000 + ms));
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(at(1_711_677_599, 250), "2024-03-29T01:59:59.250Z");
        assert_eq!(at(4_102_444_800, 0), "2100-01-01T00:00:00.000Z");
    }

    #[test]
    fn state_has_both_times_and_topics_their_levels() {
        let dsmr50 = include_bytes!("../../tests/data/dsmr50_iskra_am550_2mbus.txt");
        let json = state(&json::state(&Reading::parse(dsmr50)), UNIX_EPOCH);
        assert!(
            json.starts_with(r#"{"received":"1970-01-01T00:00:00.000Z","time":"2020-04-26T22:33:25+02:00","meter":"#),
            "{json}"
        );
        let dsmr22 = include_bytes!("../../tests/data/dsmr22_iskra_mt382-1003.txt");
        let json = state(&json::state(&Reading::parse(dsmr22)), UNIX_EPOCH);
        assert!(
            json.starts_with(r#"{"received":"1970-01-01T00:00:00.000Z","meter":"#),
            "{json}"
        );
        let t = Topics::new("site/a", "E1");
        assert_eq!(&*t.availability, "site/a/E1/availability");
        assert_eq!(&*t.telegram, "site/a/E1/telegram");
        assert_eq!(&*t.state, "site/a/E1/state");
    }
}
