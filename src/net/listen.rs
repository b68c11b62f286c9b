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
                    // Where Home Assistant looks for a HomeWizard meter.
                    io::ErrorKind::AddrInUse if *option == "--http" && addr.port() == 80 => f
                        .write_str(
                            "; port 80 is taken, likely by a web server (nginx, lighttpd, \
                             apache: `ss -ltnp sport = :80` names it). Home Assistant looks \
                             for a HomeWizard meter on port 80 only: free it, or serve another \
                             port (--http 8080) and give that port to clients that take one \
                             (evcc, python-homewizard-energy)",
                        ),
                    io::ErrorKind::AddrInUse => write!(
                        f,
                        "; another program has that port (a running p1mux or ser2net?): stop \
                         it or pick another {option}"
                    ),
                    io::ErrorKind::AddrNotAvailable => {
                        f.write_str("; that address is not on this machine")
                    }
                    io::ErrorKind::PermissionDenied => f.write_str(
                        "; ports below 1024 need root or CAP_NET_BIND_SERVICE (p1mux.service \
                         grants it: AmbientCapabilities=CAP_NET_BIND_SERVICE; a container: \
                         --cap-add NET_BIND_SERVICE)",
                    ),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn said(port: u16, option: &'static str, kind: io::ErrorKind) -> String {
        let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
        let err = io::Error::from(kind);
        ListenError::Bind { addr, option, err }.to_string()
    }

    #[test]
    fn port_80_hints() {
        let taken = said(80, "--http", io::ErrorKind::AddrInUse);
        assert!(taken.contains("port 80 is taken") && taken.contains("Home Assistant"));
        assert!(!taken.contains("ser2net"), "{taken}");
        let other = said(8080, "--http", io::ErrorKind::AddrInUse);
        assert!(other.contains("pick another --http") && !other.contains("Home Assistant"));
        let raw = said(80, "--listen", io::ErrorKind::AddrInUse);
        assert!(!raw.contains("Home Assistant"), "{raw}");
        let denied = said(80, "--http", io::ErrorKind::PermissionDenied);
        assert!(denied.contains("--cap-add NET_BIND_SERVICE"), "{denied}");
    }
}
