//! The two mDNS sockets, IPv4 and IPv6, on port 5353 beside any other
//! responder on the host (avahi-daemon, a browser's): `SO_REUSEADDR` and
//! `SO_REUSEPORT` let every one bind it, and each gets its own copy of
//! every multicast packet. Each packet's interface comes with it
//! (`IP_PKTINFO`, `IPV6_RECVPKTINFO`), so that a query is answered with
//! the addresses of the network it came from, out of that interface.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;

use mio::net::UdpSocket;
use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, sendmsg, setsockopt,
    sockopt,
};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockRef, Socket, Type};

use super::interfaces::Interface;

pub const PORT: u16 = 5353;
pub const GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);
pub const GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xfb);

/// IPv4 or IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

/// One mDNS socket and the interfaces it has joined the group on.
pub struct McastSocket {
    pub family: Family,
    pub socket: UdpSocket,
    joined: Vec<u32>,
}

/// A packet received: its length in the buffer, sender, interface.
pub struct Received {
    pub len: usize,
    pub from: SocketAddr,
    pub interface: u32,
}

impl McastSocket {
    pub fn open(family: Family) -> io::Result<McastSocket> {
        let domain = match family {
            Family::V4 => Domain::IPV4,
            Family::V6 => Domain::IPV6,
        };
        let socket = Socket::new(domain, Type::DGRAM.cloexec(), Some(Protocol::UDP))?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        socket.set_nonblocking(true)?;
        // RFC 6762, 11: mDNS packets go out with TTL 255 and are looped
        // back, so that browsers on this host see them too.
        let bind: SocketAddr = match family {
            Family::V4 => {
                socket.set_multicast_ttl_v4(255)?;
                socket.set_multicast_loop_v4(true)?;
                setsockopt(socket.as_raw_fd(), sockopt::Ipv4PacketInfo, &true)?;
                (Ipv4Addr::UNSPECIFIED, PORT).into()
            }
            Family::V6 => {
                socket.set_only_v6(true)?;
                socket.set_multicast_hops_v6(255)?;
                socket.set_multicast_loop_v6(true)?;
                setsockopt(socket.as_raw_fd(), sockopt::Ipv6RecvPacketInfo, &true)?;
                (Ipv6Addr::UNSPECIFIED, PORT).into()
            }
        };
        socket.bind(&bind.into())?;
        Ok(McastSocket {
            family,
            socket: UdpSocket::from_std(socket.into()),
            joined: Vec::new(),
        })
    }

    /// Joins the group on interfaces new since the last call; forgets the
    /// gone ones (the kernel dropped their memberships with them).
    pub fn join(&mut self, interfaces: &[Interface]) -> Vec<(String, io::Error)> {
        let mut failed = Vec::new();
        self.joined
            .retain(|i| interfaces.iter().any(|f| f.index == *i));
        for interface in interfaces {
            if self.joined.contains(&interface.index) || !self.carries(interface) {
                continue;
            }
            let joined = match self.family {
                Family::V4 => SockRef::from(&self.socket).join_multicast_v4_n(
                    &GROUP_V4,
                    &InterfaceIndexOrAddress::Index(interface.index),
                ),
                Family::V6 => self.socket.join_multicast_v6(&GROUP_V6, interface.index),
            };
            match joined {
                // Already a member: a quick down-up of the link.
                Ok(()) => self.joined.push(interface.index),
                Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => {
                    self.joined.push(interface.index)
                }
                Err(e) => failed.push((interface.name.clone(), e)),
            }
        }
        failed
    }

    /// Whether this family has an address on `interface` to announce.
    pub fn carries(&self, interface: &Interface) -> bool {
        match self.family {
            Family::V4 => !interface.addrs.v4.is_empty(),
            Family::V6 => !interface.addrs.v6.is_empty(),
        }
    }

    /// The next packet, if one is waiting.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<Received>> {
        let mut iov = [IoSliceMut::new(buf)];
        let mut cmsg = nix::cmsg_space!(libc::in6_pktinfo);
        let msg = match recvmsg::<SockaddrStorage>(
            self.socket.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_DONTWAIT,
        ) {
            Ok(msg) => msg,
            Err(nix::errno::Errno::EAGAIN) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut interface = 0;
        for c in msg.cmsgs() {
            match c {
                ControlMessageOwned::Ipv4PacketInfo(info) => interface = info.ipi_ifindex as u32,
                ControlMessageOwned::Ipv6PacketInfo(info) => interface = info.ipi6_ifindex,
                _ => {}
            }
        }
        let from = msg.address.and_then(|a| {
            if let Some(v4) = a.as_sockaddr_in() {
                Some(SocketAddr::V4(SocketAddrV4::new(
                    Ipv4Addr::from(v4.ip()),
                    v4.port(),
                )))
            } else {
                a.as_sockaddr_in6().map(|v6| {
                    SocketAddr::V6(SocketAddrV6::new(v6.ip(), v6.port(), 0, v6.scope_id()))
                })
            }
        });
        let Some(from) = from else {
            return Ok(None);
        };
        Ok(Some(Received {
            len: msg.bytes,
            from,
            interface,
        }))
    }

    /// Sends `bytes` out of `interface`: to the group, or to `to`.
    pub fn send(&self, interface: u32, to: Option<SocketAddr>, bytes: &[u8]) -> io::Result<()> {
        let iov = [IoSlice::new(bytes)];
        let to = to.unwrap_or(match self.family {
            Family::V4 => SocketAddr::from((GROUP_V4, PORT)),
            Family::V6 => SocketAddr::V6(SocketAddrV6::new(GROUP_V6, PORT, 0, interface)),
        });
        let addr = SockaddrStorage::from(to);
        let v4_info = libc::in_pktinfo {
            ipi_ifindex: interface as i32,
            ipi_spec_dst: libc::in_addr { s_addr: 0 },
            ipi_addr: libc::in_addr { s_addr: 0 },
        };
        let v6_info = libc::in6_pktinfo {
            ipi6_addr: libc::in6_addr { s6_addr: [0; 16] },
            ipi6_ifindex: interface,
        };
        let cmsg = match (self.family, to.ip()) {
            (Family::V4, IpAddr::V4(_)) => ControlMessage::Ipv4PacketInfo(&v4_info),
            _ => ControlMessage::Ipv6PacketInfo(&v6_info),
        };
        sendmsg(
            self.socket.as_raw_fd(),
            &iov,
            &[cmsg],
            MsgFlags::MSG_DONTWAIT,
            Some(&addr),
        )?;
        Ok(())
    }
}
