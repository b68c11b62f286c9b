use std::rc::Rc;

use super::*;

const CONNACK_OK: &[u8] = &[0x20, 2, 0, 0];

fn connect() -> Connect<'static> {
    Connect {
        client_id: "p1mux-test",
        keep_alive: 30,
        clean_session: true,
        will: None,
        username: None,
        password: None,
    }
}

fn message(tag: u8, qos: QoS) -> Message {
    Message {
        topic: Rc::from("p1mux/m/telegram"),
        payload: Rc::from(vec![tag; 10]),
        qos,
        retain: false,
        dup: false,
    }
}

/// Every packet in `bytes`, decoded.
fn packets(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        // Our own packets are small: a one-byte remaining length, or two.
        let (len, head) = if bytes[at + 1] & 0x80 == 0 {
            (usize::from(bytes[at + 1]), 2)
        } else {
            (
                usize::from(bytes[at + 1] & 0x7F) + 128 * usize::from(bytes[at + 2]),
                3,
            )
        };
        out.push(bytes[at..at + head + len].to_vec());
        at += head + len;
    }
    out
}

/// A session past CONNACK, its CONNECT written.
fn ready(now: Instant) -> Session {
    let mut s = Session::new(1 << 20, now);
    s.open(&connect(), now);
    let n = s.outgoing().len();
    s.written(n);
    assert_eq!(s.received(CONNACK_OK, now), Ok(vec![Event::Accepted]));
    s
}

#[test]
fn nothing_but_connect_before_connack() {
    let t0 = Instant::now();
    let mut s = Session::new(1 << 20, t0);
    s.queue.push(message(1, QoS::AtMostOnce));
    s.open(&connect(), t0);
    s.pump(t0);
    let sent = packets(s.outgoing());
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0][0], 0x10, "CONNECT");
    s.written(sent[0].len());
    // CONNACK split over two reads.
    assert_eq!(s.received(&CONNACK_OK[..1], t0), Ok(vec![]));
    assert!(!s.is_ready());
    assert_eq!(s.received(&CONNACK_OK[1..], t0), Ok(vec![Event::Accepted]));
    s.pump(t0);
    let sent = packets(s.outgoing());
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0][0], 0x30, "the queued message, QoS 0");
    assert_eq!(s.published, 1);
}

#[test]
fn refusals_and_strangers_are_faults() {
    let t0 = Instant::now();
    let mut s = Session::new(1 << 20, t0);
    s.open(&connect(), t0);
    assert_eq!(s.received(&[0x20, 2, 0, 4], t0), Err(Fault::Refused(4)));
    assert!(
        Fault::Refused(4)
            .to_string()
            .contains("bad user name or password")
    );
    s.open(&connect(), t0);
    assert!(matches!(
        s.received(&[0xD0, 0], t0),
        Err(Fault::Protocol(_))
    ));
    s.open(&connect(), t0);
    assert!(matches!(
        s.received(&[0xF0, 0], t0),
        Err(Fault::Protocol(_))
    ));
}

#[test]
fn qos1_waits_for_puback_and_resends_after_a_reconnect() {
    let t0 = Instant::now();
    let mut s = ready(t0);
    for tag in 0..(MAX_INFLIGHT as u8 + 3) {
        s.queue.push(message(tag, QoS::AtLeastOnce));
    }
    s.send_control(
        Message {
            retain: true,
            ..message(99, QoS::AtLeastOnce)
        },
        t0,
    );
    s.pump(t0);
    // The control message takes a place in the window too.
    assert_eq!((s.inflight(), s.queue.len()), (MAX_INFLIGHT, 4));
    let sent = packets(s.outgoing());
    // First data message: pid 2 (the control message took 1).
    assert_eq!(sent[1][0], 0x32);
    assert_eq!(
        &sent[1][2..],
        &[&[0, 16][..], b"p1mux/m/telegram", &[0, 2], &[0; 10]].concat()
    );
    let n = s.outgoing().len();
    s.written(n);
    // PUBACK for the first two data messages and the control message.
    s.received(&[0x40, 2, 0, 2, 0x40, 2, 0, 3, 0x40, 2, 0, 1], t0)
        .unwrap();
    assert_eq!(s.published, 2, "control messages are not counted");
    s.pump(t0);
    assert_eq!((s.inflight(), s.queue.len()), (MAX_INFLIGHT, 1));
    // The connection drops: the 32 unacknowledged come back first, DUP.
    s.closed();
    assert_eq!((s.inflight(), s.queue.len()), (0, MAX_INFLIGHT + 1));
    let first = s.queue.peek().unwrap();
    assert_eq!((first.payload[0], first.dup), (2, true));
    s.open(&connect(), t0);
    let n = s.outgoing().len();
    s.written(n);
    s.received(CONNACK_OK, t0).unwrap();
    s.pump(t0);
    let sent = packets(s.outgoing());
    assert_eq!(sent[0][0], 0x3A, "PUBLISH, QoS 1, DUP");
    assert_eq!(sent.last().unwrap()[0], 0x3A);
}

#[test]
fn a_slow_broker_fills_the_queue_not_memory() {
    let t0 = Instant::now();
    let one = message(0, QoS::AtMostOnce).cost();
    let mut s = Session::new(100 * one, t0);
    s.open(&connect(), t0);
    s.received(CONNACK_OK, t0).unwrap();
    for i in 0..10_000u32 {
        s.queue.push(message(i as u8, QoS::AtMostOnce));
        s.pump(t0);
    }
    // The socket took nothing: the outgoing bytes stopped near their
    // limit, the queue at its own, the rest was dropped and counted.
    assert!(s.outgoing().len() < OUTGOING_HIGH + 100);
    assert_eq!(s.queue.len(), 100);
    let kept = s.published as usize + s.queue.len();
    assert_eq!(s.queue.dropped as usize, 10_000 - kept);
}

#[test]
fn keep_alive_pings_and_notices_a_dead_broker() {
    let t0 = Instant::now();
    let mut s = ready(t0);
    assert_eq!(s.due_at(), Some(t0 + PING_AFTER));
    s.on_time(t0 + PING_AFTER - Duration::from_millis(1))
        .unwrap();
    assert!(s.outgoing().is_empty());
    let t1 = t0 + PING_AFTER;
    s.on_time(t1).unwrap();
    assert_eq!(s.outgoing(), [0xC0, 0]);
    s.written(2);
    assert_eq!(s.due_at(), Some(t1 + PING_TIMEOUT));
    // An empty read is no sign of life.
    s.received(&[], t1 + Duration::from_secs(1)).unwrap();
    assert_eq!(s.due_at(), Some(t1 + PING_TIMEOUT));
    // PINGRESP: alive; the next ping is a quiet interval later.
    s.received(&[0xD0, 0], t1 + Duration::from_secs(1)).unwrap();
    assert_eq!(s.due_at(), Some(t1 + PING_AFTER));
    let t2 = t1 + PING_AFTER;
    s.on_time(t2).unwrap();
    assert_eq!(
        s.on_time(t2 + PING_TIMEOUT),
        Err(Fault::Timeout("a PINGREQ"))
    );
}

#[test]
fn connack_must_come_in_time() {
    let t0 = Instant::now();
    let mut s = Session::new(1 << 20, t0);
    assert_eq!(s.due_at(), None);
    s.open(&connect(), t0);
    assert_eq!(s.due_at(), Some(t0 + CONNACK_TIMEOUT));
    assert_eq!(
        s.on_time(t0 + CONNACK_TIMEOUT),
        Err(Fault::Timeout("CONNECT"))
    );
}

#[test]
fn incoming_messages_are_events_and_qos1_is_acknowledged() {
    let t0 = Instant::now();
    let mut s = ready(t0);
    let status = [
        0x33, 15, 0, 6, b'h', b'a', b'/', b'x', b'/', b's', 0, 5, b'o', b'n', b'l', b'i', b'n',
    ];
    let events = s.received(&status, t0).unwrap();
    assert_eq!(
        events,
        vec![Event::Message {
            topic: "ha/x/s".into(),
            payload: b"onlin".to_vec(),
            retain: true
        }]
    );
    assert_eq!(s.outgoing(), [0x40, 2, 0, 5]);
}

#[test]
fn only_a_whole_packet_answers_a_ping() {
    let t0 = Instant::now();
    let mut s = ready(t0);
    let t1 = t0 + PING_AFTER;
    s.on_time(t1).unwrap();
    assert_eq!(s.outgoing(), [0xC0, 0]);
    s.written(2);
    // A byte a second of a packet that never ends.
    for secs in 1..15 {
        s.received(&[0x30], t1 + Duration::from_secs(secs)).unwrap();
    }
    assert_eq!(s.due_at(), Some(t1 + PING_TIMEOUT));
    assert_eq!(
        s.on_time(t1 + PING_TIMEOUT),
        Err(Fault::Timeout("a PINGREQ"))
    );
}

#[test]
fn control_messages_are_coalesced_bounded_and_within_the_window() {
    let t0 = Instant::now();
    let mut s = ready(t0);
    let control = |topic: &str, tag: u8| Message {
        topic: Rc::from(topic),
        retain: true,
        ..message(tag, QoS::AtLeastOnce)
    };
    for tag in 0..MAX_INFLIGHT as u8 {
        s.send_control(control(&format!("c/{tag}"), tag), t0);
    }
    assert_eq!(s.inflight(), MAX_INFLIGHT);
    let written = s.outgoing().len();
    // The window is full: a flood of the same announcement waits as one,
    // and other topics stay within CONTROL_LIMIT.
    for tag in 0..10_000u32 {
        s.send_control(control("ha/config", tag as u8), t0);
        s.send_control(control(&format!("other/{tag}"), 0), t0);
    }
    assert_eq!(s.outgoing().len(), written);
    assert!(s.control.len() <= CONTROL_LIMIT);
    // Acknowledged: the waiting messages go, each once.
    let acks: Vec<u8> = (1..=MAX_INFLIGHT as u16)
        .flat_map(|pid| [0x40, 2, (pid >> 8) as u8, pid as u8])
        .collect();
    let events = s.received(&acks, t0).unwrap();
    assert_eq!(events.len(), MAX_INFLIGHT, "each PUBACK is a sign of life");
    s.pump(t0);
    assert_eq!(s.inflight(), CONTROL_LIMIT);
    assert!(s.control.is_empty());
}

#[test]
fn buffers_shrink_back_after_a_large_packet() {
    let t0 = Instant::now();
    let mut s = ready(t0);
    let payload = vec![b'x'; 200_000];
    let mut packet = vec![0x30];
    codec::remaining_length(&mut packet, 2 + 3 + payload.len());
    packet.extend_from_slice(&[0, 3, b'a', b'/', b'b']);
    packet.extend_from_slice(&payload);
    for chunk in packet.chunks(4096) {
        s.received(chunk, t0).unwrap();
    }
    assert!(s.incoming.is_empty());
    assert!(
        s.incoming.capacity() <= SHRINK_ABOVE,
        "{}",
        s.incoming.capacity()
    );
}
