//! The telegram value parser: any bytes parse without a panic into a
//! reading whose keys are unique; and a stream framed in any split gives
//! the same readings. The framer passes a telegram without a CRC (DSMR
//! 2.2/3.0), so mutations of the seeds reach the parser through it too.

use p1mux::framer::{Event, Framer, Parity};
use p1mux::telegram::Reading;

fn parse(telegram: &[u8]) -> Reading {
    let reading = Reading::parse(telegram);
    for (i, value) in reading.values.iter().enumerate() {
        assert!(
            reading.values[..i].iter().all(|v| v.key != value.key),
            "{} twice",
            value.key
        );
        let _ = (value.number(), value.text());
    }
    let _ = (
        reading.default_id(),
        reading.version(),
        reading.equipment_id(),
    );
    if let Some(time) = &reading.time {
        let _ = (time.rfc3339(), time.unix(), time.local());
    }
    reading
}

fn run(pieces: &[&[u8]]) -> Vec<Reading> {
    let mut framer = Framer::new(Parity::None);
    let mut readings = Vec::new();
    for piece in pieces {
        framer.push(piece, |event| {
            if let Event::Telegram(t) = event {
                readings.push(parse(t.bytes));
            }
        });
    }
    readings
}

pub fn check(data: &[u8]) {
    if let Some((_, rest)) = data.split_first() {
        parse(rest);
    }
    super::same_whatever_the_split(data, run);
}
