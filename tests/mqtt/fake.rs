//! A broker that misbehaves on purpose, inside the test: it accepts
//! p1mux's connections, reads its CONNECT, and then does what the test
//! tells it to (drop, garbage, floods, a trickle). It counts connections.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::PATIENCE;

/// What the broker does with one connection after reading CONNECT.
pub type Behaviour = fn(&mut TcpStream, &AtomicBool) -> io::Result<()>;

/// A fake broker on 127.0.0.1; stops (and lets go of every connection)
/// when dropped.
pub struct FakeBroker {
    pub port: u16,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl FakeBroker {
    pub fn start(behaviour: Behaviour) -> FakeBroker {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the fake broker");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopped) = (connections.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        count.fetch_add(1, Ordering::Relaxed);
                        let stopped = stopped.clone();
                        std::thread::spawn(move || {
                            stream.set_nonblocking(false).unwrap();
                            stream.set_read_timeout(Some(PATIENCE)).unwrap();
                            stream.set_write_timeout(Some(PATIENCE)).unwrap();
                            if read_packet(&mut stream).is_ok() {
                                let _ = behaviour(&mut stream, &stopped);
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        FakeBroker {
            port,
            connections,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }
}

impl Drop for FakeBroker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads one whole MQTT packet (CONNECT, PINGREQ...): its first byte.
pub fn read_packet(stream: &mut TcpStream) -> io::Result<u8> {
    let mut byte = [0u8; 1];
    stream.read_exact(&mut byte)?;
    let first = byte[0];
    let (mut len, mut shift) = (0usize, 0);
    loop {
        stream.read_exact(&mut byte)?;
        len |= usize::from(byte[0] & 0x7F) << shift;
        shift += 7;
        if byte[0] & 0x80 == 0 {
            break;
        }
    }
    io::copy(&mut stream.take(len as u64), &mut io::sink())?;
    Ok(first)
}

pub const CONNACK: [u8; 4] = [0x20, 2, 0, 0];

/// The variable-length remaining length of MQTT (2.2.3).
pub fn remaining_length(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut byte = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if n == 0 {
            return out;
        }
    }
}

/// A QoS 0 PUBLISH.
pub fn publish(topic: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x30];
    out.extend(remaining_length(2 + topic.len() + payload.len()));
    out.extend((topic.len() as u16).to_be_bytes());
    out.extend(topic.as_bytes());
    out.extend(payload);
    out
}

/// Reads and drops whatever p1mux sends, on a thread of its own, so that
/// p1mux is never held up by a full socket.
pub fn drain(stream: &TcpStream) {
    let mut reader = stream.try_clone().unwrap();
    reader.set_read_timeout(None).unwrap();
    std::thread::spawn(move || io::copy(&mut reader, &mut io::sink()));
}

/// Accepts and drops right after CONNACK.
pub fn accept_and_drop(stream: &mut TcpStream, _: &AtomicBool) -> io::Result<()> {
    stream.write_all(&CONNACK)
}

/// CONNACK, then bytes that are no MQTT, and the line left open.
pub fn garbage_after_connack(stream: &mut TcpStream, stop: &AtomicBool) -> io::Result<()> {
    stream.write_all(&CONNACK)?;
    // Apart from CONNACK: p1mux has taken the connection as accepted.
    std::thread::sleep(Duration::from_millis(100));
    stream.write_all(&[0xF0, 0x00, 0xDE, 0xAD, 0xBE, 0xEF])?;
    drain(stream);
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
