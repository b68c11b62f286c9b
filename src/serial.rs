//! The meter's serial port: opening it with the right settings, reading it
//! without blocking, and reopening it when it goes away.
//!
//! A USB cable that is pulled, a hub that resets, or udev renaming the
//! device must never cost the clients their connections: the port is closed,
//! the outage logged once, and the same path (perhaps a symlink that now
//! points elsewhere) is tried again with backoff.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use log::{info, warn};
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use serialport::{DataBits, FlowControl, Parity, SerialPort, StopBits, TTYPort};

use crate::config::Framing;
use crate::detect::Setting;
use crate::outage::Outage;

/// Why the port could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// The path does not exist (yet): unplugged, or not enumerated yet.
    Missing,
    /// The user may not open it.
    PermissionDenied,
    /// A device policy forbids it whatever the file's permissions say:
    /// systemd's DevicePolicy/DeviceAllow, or a container's device list.
    NotAllowed,
    /// Another program holds it (ser2net, ModemManager probing, another p1mux).
    Busy,
    /// The path exists but is no serial device.
    NotSerial,
    /// Anything else the OS said.
    Other(String),
}

impl OpenError {
    /// A line for the log, with the hint a user needs to fix it.
    pub fn describe(&self, path: &Path) -> String {
        let path = path.display();
        match self {
            OpenError::Missing => {
                format!("{path} does not exist (cable unplugged or not yet enumerated?)")
            }
            OpenError::PermissionDenied => format!(
                "opening {path}: permission denied; add the user running p1mux to the dialout group \
                 (sudo usermod -aG dialout $USER, then log in again) or fix the device's udev rule"
            ),
            OpenError::NotAllowed => format!(
                "opening {path}: operation not permitted by a device policy: under systemd, \
                 DeviceAllow= must cover this device's class (contrib/systemd/p1mux.service \
                 allows char-ttyUSB, char-ttyACM, char-ttyAMA and char-ttyS); in a container, \
                 pass the device in"
            ),
            OpenError::Busy => format!(
                "opening {path}: in use by another program (ser2net, ModemManager, another p1mux?); \
                 stop it, or point it at p1mux's TCP port instead"
            ),
            OpenError::NotSerial => format!("{path} is not a serial device: check --device"),
            OpenError::Other(msg) => format!("opening {path}: {msg}"),
        }
    }

    /// Whether waiting cannot fix this, so start-up should fail at once.
    /// Later, once running, everything is retried: after a replug udev may
    /// need a moment before the device gets its group and mode.
    pub fn fatal_at_startup(&self) -> bool {
        matches!(
            self,
            OpenError::PermissionDenied | OpenError::NotAllowed | OpenError::NotSerial
        )
    }
}

fn serial_bits(framing: Framing) -> (DataBits, Parity) {
    match framing {
        Framing::EightN1 => (DataBits::Eight, Parity::None),
        Framing::SevenE1 => (DataBits::Seven, Parity::Even),
    }
}

/// Opens `path` as the meter's port with `setting`, no flow control, raw,
/// non-blocking. DTR and RTS stay as the kernel raised them on open,
/// because many cables power the meter's Data Request pin from them.
pub fn open(path: &Path, setting: Setting) -> Result<TTYPort, OpenError> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(OpenError::Missing),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return Err(OpenError::PermissionDenied);
        }
        Err(e) => return Err(OpenError::Other(e.to_string())),
        Ok(meta) if !meta.file_type().is_char_device() => return Err(OpenError::NotSerial),
        Ok(_) => {}
    }
    let (data_bits, parity) = serial_bits(setting.framing);
    let port = serialport::new(path.to_string_lossy(), setting.baud)
        .data_bits(data_bits)
        .parity(parity)
        .stop_bits(StopBits::One)
        .flow_control(FlowControl::None)
        .open_native()
        .map_err(|e| match e.kind() {
            serialport::ErrorKind::Io(io::ErrorKind::NotFound) => OpenError::Missing,
            serialport::ErrorKind::Io(io::ErrorKind::PermissionDenied) => {
                OpenError::PermissionDenied
            }
            serialport::ErrorKind::NoDevice => OpenError::Busy,
            // serialport reports ENOTTY (a char device that is no tty, such
            // as /dev/null) only through nix's text for it.
            _ if e.description.contains("Not a typewriter")
                || e.description.contains("Inappropriate ioctl") =>
            {
                OpenError::NotSerial
            }
            // EPERM, not EACCES: the file's mode would allow it.
            _ if e.description.contains("Operation not permitted") => OpenError::NotAllowed,
            _ => OpenError::Other(e.description),
        })?;
    set_nonblocking(port.as_raw_fd())
        .map_err(|e| OpenError::Other(format!("setting O_NONBLOCK: {e}")))?;
    Ok(port)
}

/// Switches an open port to `setting` and drops what was received under
/// the old one. Reconfiguring in place, rather than reopening, keeps DTR
/// (often the meter's Data Request supply) up throughout.
pub fn reconfigure(port: &mut TTYPort, setting: Setting) -> io::Result<()> {
    let (data_bits, parity) = serial_bits(setting.framing);
    port.set_baud_rate(setting.baud)?;
    port.set_data_bits(data_bits)?;
    port.set_parity(parity)?;
    // SAFETY: tcflush on a descriptor we own.
    if unsafe { libc::tcflush(port.as_raw_fd(), libc::TCIFLUSH) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn set_nonblocking(fd: i32) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own, with plain integer arguments.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The serial side of the gateway: an open port, or the wait for one.
pub struct SerialInput {
    pub path: PathBuf,
    /// The setting the port is opened with now.
    setting: Setting,
    port: Option<TTYPort>,
    /// When to try opening again while closed, and what to log.
    outage: Outage,
    /// An open was tried before: the first failure may end start-up, and
    /// then "retrying" would be wrong.
    tried: bool,
    token: Token,
}

/// What a read from the port gave.
pub enum Read {
    Data(usize),
    /// Nothing more for now (or no port open).
    Empty,
    /// The port is gone (EOF, EIO, unplugged); the caller should [`SerialInput::close`] it.
    Lost(io::Error),
}

impl SerialInput {
    pub fn new(path: PathBuf, setting: Setting, token: Token, now: Instant) -> SerialInput {
        SerialInput {
            path,
            setting,
            port: None,
            outage: Outage::new(now),
            tried: false,
            token,
        }
    }

    pub fn is_open(&self) -> bool {
        self.port.is_some()
    }

    /// When the next open attempt is due, while closed.
    pub fn retry_at(&self) -> Option<Instant> {
        if self.port.is_some() {
            None
        } else {
            Some(self.outage.retry_at())
        }
    }

    pub fn setting(&self) -> Setting {
        self.setting
    }

    /// Uses `setting` from now on: at once if the port is open, else at
    /// the next open.
    pub fn apply(&mut self, setting: Setting) -> io::Result<()> {
        self.setting = setting;
        match &mut self.port {
            Some(port) => reconfigure(port, setting),
            None => Ok(()),
        }
    }

    /// Tries to open the port now. On failure, schedules the next attempt
    /// and logs the first failure of an outage at warn, later ones at debug.
    pub fn try_open(&mut self, registry: &Registry, now: Instant) -> Result<(), OpenError> {
        let first = !std::mem::replace(&mut self.tried, true);
        match open(&self.path, self.setting) {
            Ok(port) => {
                let fd = port.as_raw_fd();
                if let Err(e) =
                    registry.register(&mut SourceFd(&fd), self.token, Interest::READABLE)
                {
                    self.outage.back_off(now);
                    return Err(OpenError::Other(format!("watching the port: {e}")));
                }
                info!("opened {} ({})", self.path.display(), self.setting);
                self.port = Some(port);
                self.outage.ended();
                Ok(())
            }
            Err(e) => {
                if first && e.fatal_at_startup() {
                    // The caller ends start-up with its own message.
                    return Err(e);
                }
                self.outage.failed(&e.describe(&self.path), now);
                Err(e)
            }
        }
    }

    /// Closes the port (if open) and schedules a reopen after `delay`.
    pub fn close(&mut self, registry: &Registry, now: Instant, delay: Duration) {
        if let Some(port) = self.port.take() {
            let fd = port.as_raw_fd();
            let _ = registry.deregister(&mut SourceFd(&fd));
        }
        self.outage.retry_after(now, delay);
    }

    /// Handles the port going away: logs once, closes, schedules the reopen.
    pub fn lost(&mut self, registry: &Registry, err: &io::Error, now: Instant) {
        warn!(
            "lost {}: {err}; clients stay connected, reopening when it comes back",
            self.path.display()
        );
        self.close(registry, now, Duration::ZERO);
        self.outage.lost(now);
    }

    /// Reads what the port has, without blocking.
    pub fn read(&mut self, buf: &mut [u8]) -> Read {
        let Some(port) = &self.port else {
            return Read::Empty;
        };
        loop {
            // SAFETY: reading into a buffer we own, of the length we pass.
            let n = unsafe { libc::read(port.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                return Read::Data(n as usize);
            }
            if n == 0 {
                // VMIN is 1, so 0 means hang-up, not "no data".
                return Read::Lost(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "device hung up",
                ));
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::WouldBlock => return Read::Empty,
                io::ErrorKind::Interrupted => continue,
                _ => return Read::Lost(err),
            }
        }
    }
}
