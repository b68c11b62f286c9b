use super::*;

#[test]
fn remaining_lengths_from_the_standard() {
    // Table 2.4 of the standard: the edges of each byte count.
    for (n, bytes) in [
        (0, &[0x00][..]),
        (127, &[0x7F]),
        (128, &[0x80, 0x01]),
        (16_383, &[0xFF, 0x7F]),
        (16_384, &[0x80, 0x80, 0x01]),
        (2_097_151, &[0xFF, 0xFF, 0x7F]),
        (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
        (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
    ] {
        let mut out = Vec::new();
        remaining_length(&mut out, n);
        assert_eq!(out, bytes, "{n}");
    }
}

#[test]
fn connect_header_as_in_the_standard() {
    // Figure 3.6: user name, password, will retain off, will QoS 1,
    // will flag, clean session: flags 0xCE, keep alive 10.
    let mut out = Vec::new();
    connect(
        &mut out,
        &Connect {
            client_id: "p1",
            keep_alive: 10,
            clean_session: true,
            will: Some(Will {
                topic: "w",
                payload: b"x",
                qos: QoS::AtLeastOnce,
                retain: false,
            }),
            username: Some("u"),
            password: Some(b"pw"),
        },
    );
    let body: &[u8] = &[
        0, 4, b'M', b'Q', b'T', b'T', 4, 0xCE, 0, 10, // variable header
        0, 2, b'p', b'1', 0, 1, b'w', 0, 1, b'x', 0, 1, b'u', 0, 2, b'p', b'w',
    ];
    assert_eq!(out[0], 0x10);
    assert_eq!(usize::from(out[1]), body.len());
    assert_eq!(&out[2..], body);
    // Without user or will; a password alone is not sent (3.1.2.9).
    let mut out = Vec::new();
    connect(
        &mut out,
        &Connect {
            client_id: "",
            keep_alive: 30,
            clean_session: true,
            will: None,
            username: None,
            password: Some(b"pw"),
        },
    );
    assert_eq!(
        out,
        [0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 30, 0, 0]
    );
}

#[test]
fn publish_as_in_the_standard() {
    // Figure 3.11: topic "a/b", packet identifier 10.
    let mut out = Vec::new();
    publish(
        &mut out,
        &Publish {
            topic: "a/b",
            payload: b"hi",
            qos: QoS::AtLeastOnce,
            retain: true,
            dup: true,
            pid: 10,
        },
    );
    assert_eq!(out, [0x3B, 9, 0, 3, b'a', b'/', b'b', 0, 10, b'h', b'i']);
    let mut out = Vec::new();
    let p = Publish {
        topic: "a/b",
        payload: &[7; 200],
        qos: QoS::AtMostOnce,
        retain: false,
        dup: true,
        pid: 10,
    };
    publish(&mut out, &p);
    assert_eq!(&out[..7], [0x30, 205, 1, 0, 3, b'a', b'/']);
    assert_eq!(out.len(), 3 + 5 + 200, "no identifier at QoS 0");
}

#[test]
fn subscribe_ping_disconnect_puback() {
    // Figure 3.23 style: two filters, packet identifier 10.
    let mut out = Vec::new();
    subscribe(
        &mut out,
        10,
        &[("a/b", QoS::AtLeastOnce), ("c/d", QoS::AtMostOnce)],
    );
    assert_eq!(
        out,
        [
            0x82, 14, 0, 10, 0, 3, b'a', b'/', b'b', 1, 0, 3, b'c', b'/', b'd', 0
        ]
    );
    let mut out = Vec::new();
    pingreq(&mut out);
    disconnect(&mut out);
    puback(&mut out, 0x1234);
    assert_eq!(out, [0xC0, 0, 0xE0, 0, 0x40, 2, 0x12, 0x34]);
}

#[test]
fn decodes_what_a_broker_sends() {
    let ok = |bytes: &[u8]| decode(bytes).unwrap().unwrap();
    assert_eq!(
        ok(&[0x20, 2, 0, 0]),
        (
            Packet::ConnAck {
                session_present: false,
                code: 0
            },
            4
        )
    );
    assert_eq!(
        ok(&[0x20, 2, 1, 5]).0,
        Packet::ConnAck {
            session_present: true,
            code: 5
        }
    );
    assert_eq!(ok(&[0x40, 2, 0, 7, 0xD0]), (Packet::PubAck(7), 4));
    assert_eq!(
        ok(&[0x90, 5, 0, 10, 0, 2, 0x80]).0,
        Packet::SubAck {
            pid: 10,
            codes: vec![0, 2, 0x80]
        }
    );
    assert_eq!(ok(&[0xD0, 0]), (Packet::PingResp, 2));
    let status = [0x31, 8, 0, 4, b'h', b'a', b'/', b's', b'o', b'n'];
    assert_eq!(
        ok(&status).0,
        Packet::Publish {
            topic: "ha/s".into(),
            payload: b"on".to_vec(),
            qos: 0,
            retain: true,
            pid: None
        }
    );
    let qos1 = [0x32, 7, 0, 1, b't', 0, 9, b'o', b'k'];
    assert!(matches!(ok(&qos1).0, Packet::Publish { pid: Some(9), .. }));
}

#[test]
fn incomplete_and_malformed() {
    let whole = [0x32, 7, 0, 1, b't', 0, 9, b'o', b'k'];
    for cut in 0..whole.len() {
        assert_eq!(decode(&whole[..cut]), Ok(None), "cut at {cut}");
    }
    assert_eq!(decode(&[0x30, 0x80]), Ok(None), "length continues");
    for bad in [
        &[0x30, 0x80, 0x80, 0x80, 0x80, 0x01][..],
        &[0x20, 3, 0, 0, 0],
        &[0x20, 2, 2, 0],
        &[0x36, 3, 0, 1, b't'],
        &[0x32, 3, 0, 1, b't'],
        &[0x30, 3, 0, 5, b't'],
        &[0x30, 4, 0, 2, 0xFF, 0xFE],
        &[0x90, 2, 0, 1],
        &[0xD0, 1, 0],
        &[0x10, 0],
        &[0x30, 0xFF, 0xFF, 0x7F],
    ] {
        assert!(decode(bad).is_err(), "{bad:02x?}");
    }
}

#[test]
fn refusals_in_words() {
    assert_eq!(refusal(4), "bad user name or password");
    assert_eq!(refusal(5), "not authorized");
    assert_eq!(refusal(99), "an unknown reason");
}

#[test]
fn a_packet_over_the_limit_is_refused_from_its_header() {
    let mut header = vec![0x30];
    remaining_length(&mut header, MAX_INCOMING + 1);
    let err = decode(&header).unwrap_err();
    assert!(err.to_string().contains("more than the 256 KiB"), "{err}");
    header.truncate(header.len() - 1);
    assert_eq!(decode(&header), Ok(None), "the length is not complete yet");
}
