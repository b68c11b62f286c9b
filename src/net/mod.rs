//! TCP for every output and the network source, kept apart from them so
//! that none has to import another.
//!
//! - [`server`]: the one TCP server the listening outputs plug into as
//!   [`handler::Handler`]s: [`listen`] binds, [`accept`] takes connections
//!   under [`allow`] (`--allow`) and a limit, [`slots`] keeps them by
//!   token, each a [`link::Link`] with its bounded [`queue`]; [`storm`]
//!   summarises a flood of connects in the log.
//! - [`connect`]: an outbound connection made without blocking the loop.

pub mod accept;
pub mod allow;
pub mod connect;
pub mod handler;
pub mod link;
pub mod listen;
pub mod queue;
pub mod server;
pub mod slots;
pub mod storm;

use std::io;
use std::time::Duration;

use mio::net::TcpStream;
use socket2::{SockRef, TcpKeepalive};

/// A connection that accepts no byte for this long while data waits is gone.
pub const STALL_LIMIT: Duration = Duration::from_secs(60);

/// A peer that vanished without a FIN (power cut, Wi-Fi gone, a dongle
/// that lost power) is noticed within two minutes, not hours.
pub fn keepalive(stream: &TcpStream) -> io::Result<()> {
    let keepalive = TcpKeepalive::new()
        .with_time(Duration::from_secs(60))
        .with_interval(Duration::from_secs(10))
        .with_retries(5);
    SockRef::from(stream).set_tcp_keepalive(&keepalive)
}
