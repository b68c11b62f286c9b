//! The demo meter as a consumer sees it: every telegram through the framer,
//! its values read back from the text. One meter, the current Dutch time
//! (calendar.rs), totals that only grow (across a restart too), gas every
//! 5 minutes, and power a household with solar panels could draw: a summer
//! day second by second (days.rs), a winter day, a year, a restart, the
//! daylight saving switches (seasons.rs).

mod calendar;
mod days;
mod seasons;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use p1mux::framer::{Event, Framer, Parity};
use p1mux::source::demo::DemoMeter;

/// A meter started at Unix time `unix` (half a second into it), polled
/// at each due time as the gateway would.
struct Run {
    meter: DemoMeter,
    start: Instant,
    /// Seconds since the start, as both clocks agree.
    elapsed: f64,
    unix: i64,
    framer: Framer,
}

impl Run {
    fn start(unix: i64) -> Run {
        let start = Instant::now();
        Run {
            meter: DemoMeter::new(start, wall(unix as f64 + 0.5)),
            start,
            elapsed: 0.0,
            unix,
            framer: Framer::new(Parity::None),
        }
    }

    /// The telegram `secs` seconds after the previous one; checks that it
    /// is due then and is one valid telegram with a matching CRC.
    fn after(&mut self, secs: f64) -> Telegram {
        self.elapsed += secs;
        let now = self.start + Duration::from_secs_f64(self.elapsed);
        let at = wall(self.unix as f64 + 0.5 + self.elapsed);
        let bytes = self.meter.poll(now, at).expect("a telegram is due");
        let mut valid = 0;
        self.framer.push(&bytes, |event| match event {
            Event::Telegram(t) => {
                assert!(t.crc && t.bytes == bytes);
                valid += 1;
            }
            Event::Rejected { reason, .. } => panic!("rejected: {}", reason.name()),
        });
        assert_eq!(valid, 1);
        Telegram::parse(&bytes)
    }
}

fn wall(unix: f64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs_f64(unix)
}

/// A telegram's lines, split at the first parenthesis: (OBIS code, rest).
struct Telegram {
    text: String,
    /// Where each line starts, its '(' and its end, in `text`.
    lines: Vec<(usize, usize, usize)>,
    /// Import T1, T2, export T1, T2 (kWh), gas (m3).
    registers: [f64; 5],
}

impl Telegram {
    fn parse(bytes: &[u8]) -> Telegram {
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let mut lines = Vec::with_capacity(40);
        let mut start = 0;
        for line in text.split_inclusive("\r\n") {
            if let Some(paren) = line.find('(') {
                lines.push((start, start + paren, start + line.len() - 2));
            }
            start += line.len();
        }
        let registers = [0.0; 5];
        let mut t = Telegram {
            text,
            lines,
            registers,
        };
        t.registers = [
            "1-0:1.8.1",
            "1-0:1.8.2",
            "1-0:2.8.1",
            "1-0:2.8.2",
            "0-1:24.2.1",
        ]
        .map(|o| t.num(o));
        t
    }

    /// What follows the code on its line: "(...)".
    fn raw(&self, obis: &str) -> &str {
        let found = self
            .lines
            .iter()
            .find(|(start, paren, _)| &self.text[*start..*paren] == obis);
        let (_, paren, end) = found.unwrap_or_else(|| panic!("no {obis}"));
        &self.text[*paren..*end]
    }

    /// The last parenthesised value of a line, unit stripped.
    fn value(&self, obis: &str) -> &str {
        let raw = self.raw(obis);
        let last = raw.rsplit('(').next().unwrap().trim_end_matches(')');
        last.split('*').next().unwrap()
    }

    fn num(&self, obis: &str) -> f64 {
        self.value(obis).parse().unwrap()
    }

    fn stamp(&self) -> &str {
        self.value("0-0:1.0.0")
    }

    /// The gas reading's own time stamp.
    fn gas_stamp(&self) -> &str {
        let raw = self.raw("0-1:24.2.1");
        &raw[1..raw.find(')').unwrap()]
    }
}
