//! Opening the meter's serial port with the right settings, and telling the
//! user exactly why it would not open.

use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use serialport::{ClearBuffer, DataBits, FlowControl, Parity, SerialPort, StopBits, TTYPort};

use crate::line::{Framing, Setting};

/// Why the port could not be opened. Classified from the OS error number,
/// never from its text, which differs between libc versions and locales.
#[derive(Debug)]
pub enum OpenError {
    /// The path does not exist (yet): unplugged, or not enumerated yet.
    Missing,
    /// The path exists but no device answers behind it (ENXIO, ENODEV): a
    /// USB adapter gone with its node left behind, or a ttyS port without
    /// hardware.
    NoDevice(String),
    /// The user may not open it (EACCES); `owner` says who may.
    PermissionDenied { owner: Option<Owner> },
    /// A device policy forbids it whatever the file's permissions say
    /// (EPERM): systemd's DevicePolicy/DeviceAllow, or a container's device list.
    NotAllowed,
    /// Another program holds it (ser2net, ModemManager probing, another p1mux).
    Busy,
    /// The path exists but is no serial device.
    NotSerial,
    /// Anything else the OS said.
    Other(String),
}

/// Who owns a device file, for the permission hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub user: String,
    pub group: String,
    pub mode: u32,
}

impl OpenError {
    fn from_os(e: &io::Error, path: &Path) -> OpenError {
        match e.raw_os_error() {
            Some(libc::ENOENT) => OpenError::Missing,
            Some(libc::ENODEV | libc::ENXIO) => OpenError::NoDevice(e.to_string()),
            Some(libc::EACCES) => OpenError::PermissionDenied {
                owner: owner_of(path),
            },
            Some(libc::EPERM) => OpenError::NotAllowed,
            Some(libc::EBUSY) => OpenError::Busy,
            Some(libc::ENOTTY) => OpenError::NotSerial,
            _ => OpenError::Other(e.to_string()),
        }
    }

    /// A line for the log, with the hint a user needs to fix it.
    pub fn describe(&self, path: &Path) -> String {
        let path = path.display();
        match self {
            OpenError::Missing => {
                format!("{path} does not exist (cable unplugged or not yet enumerated?)")
            }
            OpenError::NoDevice(msg) => format!(
                "opening {path}: {msg}: no device answers behind this name (unplugged, or a \
                 serial port without hardware behind it)"
            ),
            OpenError::PermissionDenied { owner } => {
                format!(
                    "opening {path}: permission denied; {}",
                    permission_hint(owner.as_ref())
                )
            }
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
            OpenError::PermissionDenied { .. } | OpenError::NotAllowed | OpenError::NotSerial
        )
    }
}

/// What to do about EACCES, given who owns the device: joining its group
/// only helps when the group may read and write it.
pub fn permission_hint(owner: Option<&Owner>) -> String {
    let Some(owner) = owner else {
        return "add the user running p1mux to the group that owns the device (usually \
                dialout: sudo usermod -aG dialout $USER, then log in again)"
            .into();
    };
    let Owner { user, group, mode } = owner;
    let shown = format!(
        "the device belongs to {user}:{group} with mode {:04o}",
        mode & 0o7777
    );
    if mode & 0o060 == 0o060 && group != "root" {
        format!(
            "{shown}: add the user running p1mux to the {group} group (sudo usermod -aG \
             {group} $USER), then log in again so that it takes effect"
        )
    } else {
        format!(
            "{shown}, so joining a group will not help: give it group access with a udev rule \
             (see contrib/udev/99-p1mux.rules: GROUP=\"dialout\", MODE=\"0660\"), or run p1mux \
             as {user}"
        )
    }
}

fn owner_of(path: &Path) -> Option<Owner> {
    let meta = std::fs::metadata(path).ok()?;
    let user = nix::unistd::User::from_uid(meta.uid().into())
        .ok()
        .flatten()
        .map_or_else(|| meta.uid().to_string(), |u| u.name);
    let group = nix::unistd::Group::from_gid(meta.gid().into())
        .ok()
        .flatten()
        .map_or_else(|| meta.gid().to_string(), |g| g.name);
    Some(Owner {
        user,
        group,
        mode: meta.mode(),
    })
}

/// The serial ports that exist now, the likely P1 cables first: stable
/// names under /dev/serial/by-id, then USB adapters, then the rest.
pub fn existing_ports() -> Vec<String> {
    let mut ports: Vec<String> = serialport::available_ports()
        .map(|ports| ports.into_iter().map(|p| p.port_name).collect())
        .unwrap_or_default();
    if let Ok(entries) = std::fs::read_dir("/dev/serial/by-id") {
        for entry in entries.flatten() {
            ports.push(entry.path().display().to_string());
        }
    }
    ports.sort_by_key(|p| {
        let rank = if p.starts_with("/dev/serial/by-id") {
            0
        } else if p.contains("ttyUSB") || p.contains("ttyACM") {
            1
        } else {
            2
        };
        (rank, p.clone())
    });
    ports.dedup();
    ports
}

/// For a device that does not exist: a likely right name, or the ports
/// that do exist. `--device ttyUSB0` is a file in the current directory.
pub fn missing_hint(path: &Path) -> String {
    if path.is_relative() {
        let dev = Path::new("/dev").join(path);
        return format!(
            "a path relative to the current directory, where no such file exists; serial \
             devices live in /dev: use --device {}",
            dev.display()
        );
    }
    let ports = existing_ports();
    if ports.is_empty() {
        "no serial ports exist on this machine yet".into()
    } else {
        format!("serial ports that exist now: {}", ports.join(", "))
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
        Err(e) => return Err(OpenError::from_os(&e, path)),
        Ok(meta) if !meta.file_type().is_char_device() => return Err(OpenError::NotSerial),
        Ok(_) => {}
    }
    // Opened first by hand, because the serialport crate reports errors
    // without their errno. Kept open until serialport has the port, so that
    // closing it cannot drop DTR (HUPCL) under the meter.
    let probe = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| OpenError::from_os(&e, path))?;
    if !nix::unistd::isatty(probe.as_raw_fd()).unwrap_or(false) {
        return Err(OpenError::NotSerial);
    }
    let (data_bits, parity) = serial_bits(setting.framing);
    let port = serialport::new(path.to_string_lossy(), setting.baud)
        .data_bits(data_bits)
        .parity(parity)
        .stop_bits(StopBits::One)
        .flow_control(FlowControl::None)
        .open_native()
        .map_err(|e| match e.kind() {
            serialport::ErrorKind::NoDevice => OpenError::Busy,
            serialport::ErrorKind::Io(io::ErrorKind::NotFound) => OpenError::Missing,
            _ => OpenError::Other(e.description),
        })?;
    drop(probe);
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
    port.clear(ClearBuffer::Input)?;
    Ok(())
}

/// serialport clears O_NONBLOCK after opening; the event loop needs it.
fn set_nonblocking(fd: RawFd) -> nix::Result<()> {
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// Reads a port's descriptor directly: serialport's own `Read` waits for
/// data with a timeout first, which a non-blocking loop must not do.
pub struct FdReader<'a>(pub &'a TTYPort);

impl io::Read for FdReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        nix::unistd::read(self.0.as_raw_fd(), buf).map_err(io::Error::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(user: &str, group: &str, mode: u32) -> Owner {
        Owner {
            user: user.into(),
            group: group.into(),
            mode,
        }
    }

    #[test]
    fn permission_hints_name_the_real_owner() {
        let dialout = permission_hint(Some(&owner("root", "dialout", 0o20660)));
        assert!(dialout.contains("root:dialout with mode 0660"), "{dialout}");
        assert!(dialout.contains("usermod -aG dialout"), "{dialout}");
        let private = permission_hint(Some(&owner("root", "root", 0o20600)));
        assert!(private.contains("will not help"), "{private}");
        assert!(!private.contains("usermod"), "{private}");
        let no_group_rw = permission_hint(Some(&owner("root", "uucp", 0o20640)));
        assert!(no_group_rw.contains("will not help"), "{no_group_rw}");
    }

    #[test]
    fn errors_are_classified_by_errno() {
        let p = Path::new("/dev/x");
        let os = |n| io::Error::from_raw_os_error(n);
        assert!(matches!(
            OpenError::from_os(&os(libc::ENOENT), p),
            OpenError::Missing
        ));
        assert!(matches!(
            OpenError::from_os(&os(libc::EPERM), p),
            OpenError::NotAllowed
        ));
        assert!(matches!(
            OpenError::from_os(&os(libc::EBUSY), p),
            OpenError::Busy
        ));
        assert!(matches!(
            OpenError::from_os(&os(libc::ENOTTY), p),
            OpenError::NotSerial
        ));
        assert!(matches!(
            OpenError::from_os(&os(libc::EACCES), p),
            OpenError::PermissionDenied { .. }
        ));
    }

    #[test]
    fn dev_null_is_not_serial() {
        assert!(matches!(
            open(Path::new("/dev/null"), crate::line::CANDIDATES[0]),
            Err(OpenError::NotSerial)
        ));
        assert!(matches!(
            open(Path::new("/nonexistent/tty"), crate::line::CANDIDATES[0]),
            Err(OpenError::Missing)
        ));
    }
}
