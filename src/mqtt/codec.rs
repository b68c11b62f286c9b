//! The MQTT 3.1.1 packets a publishing client needs, written and read by
//! hand: CONNECT, PUBLISH, PUBACK, SUBSCRIBE, PINGREQ and DISCONNECT out;
//! CONNACK, PUBLISH, PUBACK, SUBACK and PINGRESP in.
//!
//! Pure code. Encoding appends to a `Vec<u8>`; [`decode`] takes the bytes
//! received so far and returns a whole packet and its length, or None
//! until one is complete. Section numbers refer to the OASIS MQTT 3.1.1
//! standard.

use std::fmt;

/// Longest packet accepted from the broker: p1mux subscribes to one small
/// status topic; anything bigger is not meant for it.
pub const MAX_INCOMING: usize = 256 * 1024;

/// Delivery guarantee of a message (QoS 2 is never used).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QoS {
    AtMostOnce = 0,
    AtLeastOnce = 1,
}

/// The broker's last word for p1mux, sent when the connection dies (3.1.2.5).
#[derive(Debug, Clone, Copy)]
pub struct Will<'a> {
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub qos: QoS,
    pub retain: bool,
}

/// What CONNECT says (3.1).
#[derive(Debug, Clone, Copy)]
pub struct Connect<'a> {
    pub client_id: &'a str,
    /// Seconds; the broker drops p1mux after 1.5 times this without a packet.
    pub keep_alive: u16,
    pub clean_session: bool,
    pub will: Option<Will<'a>>,
    pub username: Option<&'a str>,
    pub password: Option<&'a [u8]>,
}

/// One outgoing PUBLISH (3.3).
#[derive(Debug, Clone, Copy)]
pub struct Publish<'a> {
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub qos: QoS,
    pub retain: bool,
    /// A second try of a QoS 1 message (3.3.1.1).
    pub dup: bool,
    /// The packet identifier, for QoS 1 only.
    pub pid: u16,
}

/// A packet from the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// The answer to CONNECT: 0 is accepted, 1-5 a refusal (3.2.2.3).
    ConnAck {
        session_present: bool,
        code: u8,
    },
    /// A message on a subscribed topic.
    Publish {
        topic: String,
        payload: Vec<u8>,
        qos: u8,
        retain: bool,
        pid: Option<u16>,
    },
    PubAck(u16),
    /// Per topic filter: the granted QoS, or 0x80 for a refusal.
    SubAck {
        pid: u16,
        codes: Vec<u8>,
    },
    PingResp,
}

/// Bytes the broker should never send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed packet from the broker: {}", self.0)
    }
}

/// The words for a CONNACK refusal code (3.2.2.3).
pub fn refusal(code: u8) -> &'static str {
    match code {
        1 => "it does not speak MQTT 3.1.1",
        2 => "it rejects the client id",
        3 => "the MQTT service is unavailable",
        4 => "bad user name or password",
        5 => "not authorized",
        _ => "an unknown reason",
    }
}

/// Appends the remaining length in the variable-length encoding (2.2.3).
pub fn remaining_length(out: &mut Vec<u8>, mut n: usize) {
    debug_assert!(n <= 268_435_455);
    loop {
        let mut byte = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if n == 0 {
            return;
        }
    }
}

/// A UTF-8 string or binary data with its two-byte length (1.5.3). Callers
/// keep them under 64 KiB: topics and ids are checked in the config.
fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&bytes[..usize::from(len)]);
}

fn fixed_header(out: &mut Vec<u8>, first: u8, len: usize) {
    out.push(first);
    remaining_length(out, len);
}

pub fn connect(out: &mut Vec<u8>, c: &Connect) {
    let mut flags = 0u8;
    if c.clean_session {
        flags |= 0x02;
    }
    let mut len = 10 + 2 + c.client_id.len();
    if let Some(w) = &c.will {
        flags |= 0x04 | (w.qos as u8) << 3;
        if w.retain {
            flags |= 0x20;
        }
        len += 2 + w.topic.len() + 2 + w.payload.len();
    }
    if let Some(u) = c.username {
        flags |= 0x80;
        len += 2 + u.len();
        // A password needs a user name in 3.1.1 (3.1.2.9).
        if let Some(p) = c.password {
            flags |= 0x40;
            len += 2 + p.len();
        }
    }
    fixed_header(out, 0x10, len);
    field(out, b"MQTT");
    out.push(4); // protocol level 4: 3.1.1
    out.push(flags);
    out.extend_from_slice(&c.keep_alive.to_be_bytes());
    field(out, c.client_id.as_bytes());
    if let Some(w) = &c.will {
        field(out, w.topic.as_bytes());
        field(out, w.payload);
    }
    if let Some(u) = c.username {
        field(out, u.as_bytes());
        if let Some(p) = c.password {
            field(out, p);
        }
    }
}

pub fn publish(out: &mut Vec<u8>, p: &Publish) {
    let mut first = 0x30 | (p.qos as u8) << 1;
    if p.retain {
        first |= 0x01;
    }
    if p.dup && p.qos == QoS::AtLeastOnce {
        first |= 0x08;
    }
    let pid_len = if p.qos == QoS::AtLeastOnce { 2 } else { 0 };
    fixed_header(out, first, 2 + p.topic.len() + pid_len + p.payload.len());
    field(out, p.topic.as_bytes());
    if pid_len > 0 {
        out.extend_from_slice(&p.pid.to_be_bytes());
    }
    out.extend_from_slice(p.payload);
}

/// The acknowledgement of a QoS 1 message from the broker.
pub fn puback(out: &mut Vec<u8>, pid: u16) {
    out.extend_from_slice(&[0x40, 2]);
    out.extend_from_slice(&pid.to_be_bytes());
}

pub fn subscribe(out: &mut Vec<u8>, pid: u16, filters: &[(&str, QoS)]) {
    let len = 2 + filters.iter().map(|(t, _)| 2 + t.len() + 1).sum::<usize>();
    fixed_header(out, 0x82, len);
    out.extend_from_slice(&pid.to_be_bytes());
    for (topic, qos) in filters {
        field(out, topic.as_bytes());
        out.push(*qos as u8);
    }
}

pub fn pingreq(out: &mut Vec<u8>) {
    out.extend_from_slice(&[0xC0, 0]);
}

pub fn disconnect(out: &mut Vec<u8>) {
    out.extend_from_slice(&[0xE0, 0]);
}

/// One whole packet from the start of `buf` and the bytes it took, or None
/// while it is incomplete.
pub fn decode(buf: &[u8]) -> Result<Option<(Packet, usize)>, Malformed> {
    let bad = |why: &str| Err(Malformed(why.to_string()));
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let mut len = 0usize;
    let mut at = 1;
    loop {
        let Some(&byte) = buf.get(at) else {
            return Ok(None);
        };
        len |= usize::from(byte & 0x7F) << (7 * (at - 1));
        at += 1;
        if byte & 0x80 == 0 {
            break;
        }
        if at > 4 {
            return bad("remaining length longer than four bytes");
        }
    }
    if len > MAX_INCOMING {
        // Said as soon as the header is in: the body is never read.
        return bad(&format!(
            "it announces {len} bytes, more than the {} KiB p1mux takes; not reading it",
            MAX_INCOMING / 1024
        ));
    }
    let Some(body) = buf.get(at..at + len) else {
        return Ok(None);
    };
    let total = at + len;
    let packet = match (first >> 4, first & 0x0F, body) {
        (2, 0, [flags, code]) if flags & !1 == 0 => Packet::ConnAck {
            session_present: flags & 1 == 1,
            code: *code,
        },
        (3, flags, _) => {
            let qos = (flags >> 1) & 3;
            if qos == 3 {
                return bad("PUBLISH with QoS 3");
            }
            let Some((topic, rest)) = string(body) else {
                return bad("PUBLISH topic");
            };
            let (pid, payload) = if qos > 0 {
                match rest {
                    [a, b, payload @ ..] => (Some(u16::from_be_bytes([*a, *b])), payload),
                    _ => return bad("PUBLISH without a packet identifier"),
                }
            } else {
                (None, rest)
            };
            Packet::Publish {
                topic,
                payload: payload.to_vec(),
                qos,
                retain: flags & 1 == 1,
                pid,
            }
        }
        (4, 0, [a, b]) => Packet::PubAck(u16::from_be_bytes([*a, *b])),
        (9, 0, [a, b, codes @ ..]) if !codes.is_empty() => Packet::SubAck {
            pid: u16::from_be_bytes([*a, *b]),
            codes: codes.to_vec(),
        },
        (13, 0, []) => Packet::PingResp,
        (kind, _, _) => return bad(&format!("unexpected packet type {kind} ({len} bytes)")),
    };
    Ok(Some((packet, total)))
}

/// A length-prefixed UTF-8 string and what follows it.
fn string(bytes: &[u8]) -> Option<(String, &[u8])> {
    let [a, b, rest @ ..] = bytes else {
        return None;
    };
    let len = usize::from(u16::from_be_bytes([*a, *b]));
    let text = std::str::from_utf8(rest.get(..len)?).ok()?;
    Some((text.to_string(), &rest[len..]))
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
