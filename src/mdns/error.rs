//! Why the responder cannot start.

use super::sockets::PORT;

/// Why the responder cannot start. The text says what to do.
#[derive(Debug)]
pub enum MdnsError {
    /// Neither IPv4 nor IPv6 could bind port 5353.
    Bind(Vec<std::io::Error>),
    /// The loop cannot watch a socket.
    Watch(std::io::Error),
}

impl std::fmt::Display for MdnsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MdnsError::Bind(errors) => {
                let errors: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                write!(
                    f,
                    "--mdns: cannot bind UDP port {PORT} ({}): another mDNS responder holds it \
                     without sharing (avahi-daemon shares it); leave --mdns out to run without",
                    errors.join("; ")
                )
            }
            MdnsError::Watch(e) => write!(f, "--mdns: watching its socket: {e}"),
        }
    }
}

impl std::error::Error for MdnsError {}
