//! The MQTT decoder (src/mqtt/codec.rs, public API only): packets taken
//! from a buffer as it fills give the same packets and the same error
//! whatever the split, and a packet needs none of the bytes after it.

use p1mux::mqtt::codec::{self, Packet};

fn run(pieces: &[&[u8]]) -> (Vec<Packet>, Option<String>) {
    let mut buf = Vec::new();
    let mut packets = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match codec::decode(&buf) {
                Ok(None) => break,
                Err(e) => return (packets, Some(e.to_string())),
                Ok(Some((packet, len))) => {
                    assert!(
                        (1..=buf.len()).contains(&len),
                        "took {len} of {}",
                        buf.len()
                    );
                    assert_eq!(
                        codec::decode(&buf[..len]).ok().flatten(),
                        Some((packet.clone(), len)),
                        "a packet needed bytes after it"
                    );
                    assert_eq!(codec::decode(&buf[..len - 1]).ok().flatten(), None);
                    packets.push(packet);
                    buf.drain(..len);
                }
            }
        }
    }
    (packets, None)
}

pub fn check(data: &[u8]) {
    super::same_whatever_the_split(data, run);
}
