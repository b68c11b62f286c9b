//! TCP clients of the daemon: every socket with timeouts, so that a broken
//! daemon fails a test instead of hanging it; and the bench's receive
//! timestamps.

use std::io::{self, IoSliceMut, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg, setsockopt, sockopt};
use nix::sys::time::TimeSpec;
use rustix::event::{PollFd, PollFlags, Timespec, poll};

use crate::PATIENCE;

/// A client of 127.0.0.1:`port`, with read and write timeouts of PATIENCE.
pub fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connecting to p1mux");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Connects from `host`, an address of the 127.0.0.0/8 loopback block:
/// to p1mux another host than 127.0.0.1 (its replay rule is per host).
pub fn connect_from(port: u16, host: &str) -> TcpStream {
    let local: SocketAddr = format!("{host}:0").parse().expect("a loopback address");
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("a socket");
    socket.bind(&local.into()).expect("binding the client");
    let target = SocketAddr::from(([127, 0, 0, 1], port));
    socket.connect(&target.into()).expect("connecting to p1mux");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Reads exactly `n` bytes, or fails the test with what did arrive.
pub fn read_exact(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    let mut got = 0;
    while got < n {
        match stream.read(&mut buf[got..]) {
            Ok(0) => panic!("connection closed after {got} of {n} bytes"),
            Ok(k) => got += k,
            Err(e) => panic!("reading: {e} after {got} of {n} bytes"),
        }
    }
    buf
}

/// Asserts that nothing arrives within `quiet`.
pub fn assert_silent(stream: &mut TcpStream, quiet: Duration) {
    stream.set_read_timeout(Some(quiet)).unwrap();
    let mut buf = [0u8; 4096];
    match stream.read(&mut buf) {
        Ok(0) => panic!("connection closed"),
        Ok(n) => panic!(
            "unexpected {n} bytes: {:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Err(e) => assert!(
            matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "{e}"
        ),
    }
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
}

/// Asserts the peer closed the connection (EOF or reset) within PATIENCE.
pub fn assert_closed(stream: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("expected the connection to close, got {e}"),
        }
    }
}

/// Accepts the next connection on `listener` (p1mux connecting to a
/// network source the test plays), or fails the test after PATIENCE.
pub fn accept_within(listener: &TcpListener) -> TcpStream {
    let timeout = Timespec::try_from(PATIENCE).unwrap();
    let mut fds = [PollFd::new(listener, PollFlags::IN)];
    let ready = poll(&mut fds, Some(&timeout)).expect("poll");
    assert_eq!(ready, 1, "p1mux never connected to the source");
    let (stream, _) = listener.accept().unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// A port on 127.0.0.1 that was free a moment ago, for a server that
/// cannot be told to bind port 0 (ser2net).
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Connects to 127.0.0.1:`port`, pacing itself to the server's accept
/// rate: ser2net listens with a backlog of 5, and a SYN that finds the
/// accept queue full is retried by the kernel only after a second. A
/// connect that does not complete at once on loopback met a full queue: it
/// is abandoned and tried again a moment later, until `deadline`.
pub fn connect_paced(port: u16, deadline: Instant) -> io::Result<TcpStream> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(50)) {
            Ok(stream) => return Ok(stream),
            Err(e) if Instant::now() < deadline => {
                let not_yet_listening = e.kind() == io::ErrorKind::ConnectionRefused;
                let pause = if not_yet_listening { 50 } else { 2 };
                std::thread::sleep(Duration::from_millis(pause));
            }
            Err(e) => return Err(e),
        }
    }
}

/// The wall clock in ns since the epoch: the clock of the kernel's socket
/// receive timestamps.
pub fn realtime_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// Asks the kernel to timestamp each segment `socket` receives
/// (SO_TIMESTAMPNS), for [`StampedRecv`].
pub fn enable_rx_timestamps(socket: &impl AsRawFd) -> io::Result<()> {
    setsockopt(socket.as_raw_fd(), sockopt::ReceiveTimestampns, &true)?;
    Ok(())
}

/// Reads with the kernel's receive timestamp, so that the reader's own
/// delay (a loop over 1000 sockets, say) does not count as latency. The
/// kernel switches timestamping on a moment after the first socket asks for
/// it: segments that arrive before carry none.
pub struct StampedRecv {
    /// Room for one SCM_TIMESTAMPNS message, reused by every read.
    control: Vec<u8>,
}

impl Default for StampedRecv {
    fn default() -> Self {
        StampedRecv {
            control: nix::cmsg_space!(TimeSpec),
        }
    }
}

impl StampedRecv {
    /// Reads into `buf`: the byte count (0 at EOF) and, if the socket has
    /// timestamps on, when the last segment read reached the socket.
    pub fn recv(
        &mut self,
        socket: &impl AsRawFd,
        buf: &mut [u8],
    ) -> io::Result<(usize, Option<i64>)> {
        let mut iov = [IoSliceMut::new(buf)];
        let msg = recvmsg::<()>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut self.control),
            MsgFlags::empty(),
        )?;
        let stamp = msg.cmsgs().find_map(|c| match c {
            ControlMessageOwned::ScmTimestampns(t) => {
                Some(t.tv_sec() * 1_000_000_000 + t.tv_nsec())
            }
            _ => None,
        });
        Ok((msg.bytes, stamp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn received_bytes_carry_the_kernel_timestamp() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = connect_paced(port, Instant::now() + PATIENCE).unwrap();
        client.set_read_timeout(Some(PATIENCE)).unwrap();
        enable_rx_timestamps(&client).unwrap();
        let mut server = accept_within(&listener);
        let (mut stamped, mut buf) = (StampedRecv::default(), [0u8; 64]);
        let deadline = Instant::now() + PATIENCE;
        // Until the kernel has switched timestamping on.
        while Instant::now() < deadline {
            let before = realtime_ns();
            server.write_all(b"/telegram!").unwrap();
            let (n, stamp) = stamped.recv(&client, &mut buf).unwrap();
            let after = realtime_ns();
            assert_eq!(&buf[..n], b"/telegram!");
            if let Some(stamp) = stamp {
                assert!(
                    before <= stamp && stamp <= after,
                    "{before} {stamp} {after}"
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("no receive timestamp within {PATIENCE:?}");
    }

    #[test]
    fn silence_and_close_are_told_apart() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = connect(listener.local_addr().unwrap().port());
        let (mut server, _) = listener.accept().unwrap();
        assert_silent(&mut client, Duration::from_millis(50));
        server.write_all(b"abc").unwrap();
        assert_eq!(read_exact(&mut client, 3), b"abc");
        drop(server);
        assert_closed(&mut client);
        assert!(free_port().unwrap() > 0);
    }
}
