//! The MQTT session (src/mqtt/session.rs, public API only) fed what a
//! broker sends: the same events, fault and bytes back (PUBACKs) whatever
//! the split. Seeds begin with a CONNACK, so that mutations reach a ready
//! session.

use std::time::Instant;

use p1mux::mqtt::codec::Connect;
use p1mux::mqtt::session::{Event, Session};

#[derive(Debug, PartialEq)]
pub struct Out {
    events: Vec<Event>,
    fault: Option<String>,
    outgoing: Vec<u8>,
    ready: bool,
}

fn run(pieces: &[&[u8]]) -> Out {
    let now = Instant::now();
    let mut session = Session::new(64 * 1024, now);
    let connect = Connect {
        client_id: "p1mux-fuzz",
        keep_alive: 30,
        clean_session: true,
        will: None,
        username: None,
        password: None,
    };
    session.open(&connect, now);
    let sent = session.outgoing().len();
    session.written(sent);
    let mut events = Vec::new();
    let mut fault = None;
    for piece in pieces {
        match session.received(piece, now) {
            Ok(more) => events.extend(more),
            Err(f) => {
                // Events of the same read die with the connection: compare
                // what the link acts on, the fault.
                events.clear();
                fault = Some(f.to_string());
                break;
            }
        }
    }
    Out {
        events: if fault.is_some() { Vec::new() } else { events },
        fault,
        outgoing: session.outgoing().to_vec(),
        ready: session.is_ready(),
    }
}

pub fn check(data: &[u8]) {
    super::same_whatever_the_split(data, run);
}
