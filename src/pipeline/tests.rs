//! The pipeline alone, with a sink that records what it is handed: no
//! source, no outputs, no loop.

use std::time::Instant;

use super::*;
use crate::framer::Parity;

const DSMR50: &[u8] = include_bytes!("../../tests/data/dsmr50_iskra_am550_2mbus.txt");

/// What a feed handed on, in order, as words.
#[derive(Default)]
struct Record(Vec<String>);

impl Sink for Record {
    fn seen(&mut self, seen: Seen<'_>) {
        let word = match seen {
            Seen::Text(bytes) => format!("text {}", bytes.len()),
            Seen::Framed(Event::Telegram(_)) => "telegram".into(),
            Seen::Framed(Event::Rejected { reason, .. }) => format!("rejected {}", reason.name()),
            Seen::Frame { .. } => "frame".into(),
            Seen::FirstTelegram(_) => "first telegram".into(),
            Seen::FirstFrame(_) => "first frame".into(),
        };
        self.0.push(word);
    }

    fn deliver(&mut self, delivery: Delivery<'_>) {
        let word = match delivery {
            Delivery::Telegram(t) => format!("deliver {}", t.bytes.len()),
            Delivery::Encrypted(_) => "deliver encrypted".into(),
            Delivery::Damaged(_) => "deliver damaged".into(),
            Delivery::Raw(bytes) => format!("deliver raw {}", bytes.len()),
        };
        self.0.push(word);
    }
}

#[test]
fn says_what_it_saw_then_what_goes_out() {
    let now = Instant::now();
    let mut pipeline = Pipeline::new(Forward::Valid, Parity::None, None, now);
    pipeline.source_up(Parity::None, false, now);
    let mut sink = Record::default();
    pipeline.feed(DSMR50, now, &mut sink);
    let n = DSMR50.len();
    assert_eq!(
        sink.0,
        [
            format!("text {n}"),
            "telegram".into(),
            "first telegram".into(),
            format!("deliver {n}"),
        ]
    );
    pipeline.feed(DSMR50, now, &mut sink);
    assert_eq!(sink.0.len(), 4 + 3, "announced once: {:?}", sink.0);
    assert_eq!(pipeline.stats().telegrams, 2);
    assert_eq!(pipeline.last_telegram(), Some(now));
}

#[test]
fn a_replay_on_reconnect_is_skipped_only_from_a_source_that_replays() {
    for replays in [false, true] {
        let now = Instant::now();
        let mut pipeline = Pipeline::new(Forward::Valid, Parity::None, None, now);
        pipeline.source_up(Parity::None, replays, now);
        pipeline.feed(DSMR50, now, &mut Record::default());
        pipeline.source_down();
        pipeline.source_up(Parity::None, replays, now);
        let mut sink = Record::default();
        pipeline.feed(DSMR50, now, &mut sink);
        let delivered = sink.0.iter().any(|w| w.starts_with("deliver"));
        assert_eq!(
            delivered, !replays,
            "replays_on_connect {replays}: {:?}",
            sink.0
        );
    }
}

#[test]
fn raw_forwarding_sends_the_bytes_and_still_frames() {
    let now = Instant::now();
    let mut pipeline = Pipeline::new(Forward::Raw, Parity::None, None, now);
    pipeline.source_up(Parity::None, false, now);
    let mut sink = Record::default();
    pipeline.feed(DSMR50, now, &mut sink);
    let n = DSMR50.len();
    assert_eq!(sink.0[0], format!("deliver raw {n}"));
    assert!(!sink.0[1..].iter().any(|w| w.starts_with("deliver")));
    assert_eq!(pipeline.stats().telegrams, 1);
}
