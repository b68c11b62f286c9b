//! TCP listeners, built with socket2 so that `[::]` serves IPv4 and IPv6
//! alike and a restart can rebind at once.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use log::info;
use mio::net::TcpListener;
use socket2::{Domain, Protocol, Socket, Type};

/// Why a listener could not be set up. The text says what to do.
#[derive(Debug)]
pub enum ListenError {
    /// Binding failed; `option` (`--listen`, `--http`) is named in the hint.
    Bind {
        addr: SocketAddr,
        option: &'static str,
        err: io::Error,
    },
    /// The bound socket has no local address.
    Address { addr: SocketAddr, err: io::Error },
    /// The loop cannot watch it.
    Watch { local: SocketAddr, err: io::Error },
}

impl fmt::Display for ListenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenError::Bind { addr, option, err } => {
                write!(f, "listening on {addr}: {err}")?;
                match err.kind() {
                    io::ErrorKind::AddrInUse => write!(
                        f,
                        "; another program has that port (a running p1mux or ser2net?): stop \
                         it or pick another {option}"
                    ),
                    io::ErrorKind::AddrNotAvailable => {
                        f.write_str("; that address is not on this machine")
                    }
                    io::ErrorKind::PermissionDenied => {
                        f.write_str("; ports below 1024 need root or CAP_NET_BIND_SERVICE")
                    }
                    _ => Ok(()),
                }
            }
            ListenError::Address { addr, err } => write!(f, "listening on {addr}: {err}"),
            ListenError::Watch { local, err } => write!(f, "watching {local}: {err}"),
        }
    }
}

impl std::error::Error for ListenError {}

/// Binds `addr` for `option`. An unspecified IPv6 address (`[::]`) is made
/// dual-stack, and falls back to `0.0.0.0` on hosts where IPv6 is switched off.
pub fn bind(addr: SocketAddr, option: &'static str) -> Result<TcpListener, ListenError> {
    let failed = |addr, err| ListenError::Bind { addr, option, err };
    match bind_one(addr) {
        Ok(listener) => Ok(listener),
        Err(e) if addr.is_ipv6() && addr.ip().is_unspecified() && ipv6_unavailable(&e) => {
            let v4 = SocketAddr::from((Ipv4Addr::UNSPECIFIED, addr.port()));
            info!("IPv6 is not available ({e}); listening on IPv4 only");
            bind_one(v4).map_err(|e| failed(v4, e))
        }
        Err(e) => Err(failed(addr, e)),
    }
}

fn bind_one(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        socket.set_only_v6(false)?;
    }
    // A restart must not wait out TIME_WAIT from the previous run's clients.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    Ok(TcpListener::from_std(socket.into()))
}

fn ipv6_unavailable(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EAFNOSUPPORT | libc::EADDRNOTAVAIL | libc::EPROTONOSUPPORT)
    )
}
