//! The host's multicast interfaces and their addresses, and a watch that
//! says when they change.
//!
//! The watch is a netlink socket (`RTMGRP_LINK`, `RTMGRP_IPV4_IFADDR`,
//! `RTMGRP_IPV6_IFADDR`) registered in the loop like any socket: a
//! readable event means "something changed", and the responder re-scans
//! with `getifaddrs`. Event-driven rather than a periodic re-scan, so that
//! a DHCP lease or a cable plugged in is announced at once and an idle
//! p1mux does no work; the messages are not parsed (a re-scan is ~50 µs),
//! which keeps this small. Where netlink is refused (a locked-down
//! container), [`RESCAN`] is the fallback.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use nix::ifaddrs::getifaddrs;
use nix::net::if_::{InterfaceFlags, if_nametoindex};
use nix::sys::socket::{NetlinkAddr, bind};
use socket2::{Domain, Protocol, Socket, Type};

use super::zone::Addresses;

/// How often to re-scan when netlink is not available.
pub const RESCAN: Duration = Duration::from_secs(10);

/// One interface that can carry mDNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub index: u32,
    pub name: String,
    pub addrs: Addresses,
}

/// Interfaces that are up, multicast-capable and not loopback, by index.
pub fn scan() -> io::Result<Vec<Interface>> {
    let mut found: Vec<Interface> = Vec::new();
    for ifa in getifaddrs()? {
        let wanted = InterfaceFlags::IFF_UP | InterfaceFlags::IFF_MULTICAST;
        if !ifa.flags.contains(wanted) || ifa.flags.contains(InterfaceFlags::IFF_LOOPBACK) {
            continue;
        }
        let at = match found.iter().position(|i| i.name == ifa.interface_name) {
            Some(at) => at,
            None => {
                let Ok(index) = if_nametoindex(ifa.interface_name.as_str()) else {
                    continue;
                };
                found.push(Interface {
                    index,
                    name: ifa.interface_name.clone(),
                    addrs: Addresses::default(),
                });
                found.len() - 1
            }
        };
        let addrs = &mut found[at].addrs;
        let Some(address) = ifa.address else {
            continue;
        };
        if let Some(v4) = address.as_sockaddr_in() {
            addrs.v4.push(Ipv4Addr::from(v4.ip()));
        } else if let Some(v6) = address.as_sockaddr_in6() {
            addrs.v6.push(v6.ip());
        }
    }
    // Sorted, so that a re-scan that finds the same compares equal.
    for i in &mut found {
        i.addrs.v4.sort();
        i.addrs.v6.sort();
    }
    found.sort_by_key(|i| i.index);
    Ok(found)
}

/// Tells when links or addresses change.
pub struct Watch {
    socket: Socket,
}

impl Watch {
    pub fn open() -> io::Result<Watch> {
        let socket = Socket::new(
            Domain::from(libc::AF_NETLINK),
            Type::RAW.cloexec(),
            Some(Protocol::from(libc::NETLINK_ROUTE)),
        )?;
        socket.set_nonblocking(true)?;
        let groups = libc::RTMGRP_LINK | libc::RTMGRP_IPV4_IFADDR | libc::RTMGRP_IPV6_IFADDR;
        let addr = NetlinkAddr::new(0, groups as u32);
        bind(socket.as_raw_fd(), &addr)?;
        Ok(Watch { socket })
    }

    pub fn register(&self, registry: &Registry, token: Token) -> io::Result<()> {
        registry.register(
            &mut SourceFd(&self.socket.as_raw_fd()),
            token,
            Interest::READABLE,
        )
    }

    pub fn deregister(&self, registry: &Registry) {
        let _ = registry.deregister(&mut SourceFd(&self.socket.as_raw_fd()));
    }

    /// Reads every pending message; true when there was any (or the
    /// kernel dropped some for a full buffer: something changed either way).
    pub fn drain(&self) -> bool {
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 8192];
        let mut any = false;
        loop {
            match self.socket.recv(&mut buf) {
                Ok(_) => any = true,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return any,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // ENOBUFS: messages were lost; re-scan anyway.
                Err(_) => return true,
            }
        }
    }
}
