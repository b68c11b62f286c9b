//! What p1mux's HTTP and MQTT outputs should send for each numbered
//! telegram, computed with p1mux's own parser and JSON writer, so that the
//! event streams and the subscriber are checked byte for byte.

use std::collections::HashMap;

use p1mux::json;
use p1mux::telegram::Reading;
use p1mux_testkit::load::Numbered;

/// Per telegram, its values JSON, and which telegram a JSON's time names.
pub struct Expected {
    /// `event: telegram` with the values JSON, as `/events` sends it.
    events: Vec<Vec<u8>>,
    /// The values JSON without its opening brace: the MQTT state message
    /// after p1mux's own `{"received":"...",`.
    state_tails: Vec<String>,
    /// The meter's time in the JSON (each telegram has its own) -> index.
    by_time: HashMap<String, usize>,
}

impl Expected {
    pub fn new(tg: &Numbered) -> Result<Expected, String> {
        let mut all = Expected {
            events: Vec::with_capacity(tg.len()),
            state_tails: Vec::with_capacity(tg.len()),
            by_time: HashMap::with_capacity(tg.len()),
        };
        for i in 0..tg.len() {
            let values = json::state(&Reading::parse(tg.get(i)));
            let time = time_of(values.as_bytes()).ok_or("the values JSON has no time")?;
            if all.by_time.insert(time.to_string(), i).is_some() {
                return Err(format!("two telegrams have the time {time}"));
            }
            let event = format!("event: telegram\ndata: {values}\n\n");
            all.events.push(event.into_bytes());
            all.state_tails.push(values[1..].to_string());
        }
        Ok(all)
    }

    /// Which telegram a values JSON (or an event, or a state message) is
    /// about, by its meter time; not whether it is right.
    pub fn index(&self, json: &[u8]) -> Option<usize> {
        self.by_time.get(time_of(json)?).copied()
    }

    /// The whole `event: telegram` block for telegram `i`.
    pub fn event(&self, i: usize) -> &[u8] {
        &self.events[i]
    }

    /// Whether `message` is telegram `i`'s MQTT state: `{"received":"T",`
    /// and then its values.
    pub fn is_state(&self, i: usize, message: &[u8]) -> bool {
        let Some(rest) = message.strip_prefix(b"{\"received\":\"") else {
            return false;
        };
        let Some(end) = rest.iter().position(|&b| b == b'"') else {
            return false;
        };
        rest[end..].strip_prefix(b"\",") == Some(self.state_tails[i].as_bytes())
    }
}

/// The first `"time":"..."` value: the meter's own time (a gas reading's
/// comes later, inside its value).
fn time_of(json: &[u8]) -> Option<&str> {
    const KEY: &[u8] = b"\"time\":\"";
    let at = json.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let len = json[at..].iter().position(|&b| b == b'"')?;
    std::str::from_utf8(&json[at..at + len]).ok()
}
