//! TCP plumbing the outputs and the network source share, kept apart from
//! them so that none has to import another: [`connect`] makes an outbound
//! connection without blocking the loop, [`accept`] takes inbound ones
//! under [`allow`] (`--allow`) and a connection limit, and [`slots`] keeps
//! them by token; [`addr`] splits `HOST:PORT` as users write it.

pub mod accept;
pub mod addr;
pub mod allow;
pub mod connect;
pub mod slots;

use std::io;
use std::time::Duration;

use mio::net::TcpStream;
use socket2::{SockRef, TcpKeepalive};

/// A peer that vanished without a FIN (power cut, Wi-Fi gone, a dongle
/// that lost power) is noticed within two minutes, not hours.
pub fn keepalive(stream: &TcpStream) -> io::Result<()> {
    let keepalive = TcpKeepalive::new()
        .with_time(Duration::from_secs(60))
        .with_interval(Duration::from_secs(10))
        .with_retries(5);
    SockRef::from(stream).set_tcp_keepalive(&keepalive)
}
