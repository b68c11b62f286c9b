//! Why the settings cannot be used: a mistake in the options, or in the
//! config file (named with its line and key). Every one is a usage error
//! (exit 2) and says what to write instead.

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::announce::MdnsError;
use crate::cli::ArgError;
use crate::encrypted::key::KeyError;
use crate::framer::MAX_FRAME;
use crate::mqtt::config::MqttConfigError;

/// A mistake in the options of `serve` (or `probe`'s key options).
#[derive(Debug)]
pub enum ConfigError {
    MaxClients,
    ClientBuffer {
        given: usize,
    },
    /// `--demo` beside another `--device`.
    DemoAndDevice {
        device: String,
    },
    /// `--baud`/`--framing` for a source without a serial port.
    SerialOptionsOnNetwork,
    SerialOptionsOnDemo,
    ListenTwice {
        option: &'static str,
        text: String,
        other: String,
    },
    /// An IPv4 address beside `[::]` on the same port.
    ListenOverlap {
        option: &'static str,
        text: String,
        other: String,
        port: u16,
    },
    /// `--forward raw` with a key: nothing would be decrypted.
    RawWithKey,
    KeyFileEmpty {
        option: &'static str,
    },
    /// The key itself where its file's path belongs.
    KeyOnCommandLine {
        option: &'static str,
    },
    Mqtt(MqttConfigError),
    Mdns(MdnsError),
    File(FileError),
}

impl ConfigError {
    /// The option the mistake is in, as written on the command line: how
    /// a mistake in a config file finds its line.
    pub fn option(&self) -> Option<&'static str> {
        Some(match self {
            ConfigError::MaxClients => "--max-clients",
            ConfigError::ClientBuffer { .. } => "--client-buffer",
            ConfigError::DemoAndDevice { .. } => "--device",
            ConfigError::SerialOptionsOnNetwork | ConfigError::SerialOptionsOnDemo => "--baud",
            ConfigError::ListenTwice { option, .. }
            | ConfigError::ListenOverlap { option, .. }
            | ConfigError::KeyFileEmpty { option }
            | ConfigError::KeyOnCommandLine { option } => option,
            ConfigError::RawWithKey => "--forward",
            ConfigError::Mqtt(e) => e.option(),
            ConfigError::Mdns(_) => "--mdns",
            ConfigError::File(_) => return None,
        })
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::MaxClients => f.write_str("--max-clients must be at least 1"),
            ConfigError::ClientBuffer { given } => write!(
                f,
                "--client-buffer {given} is too small: it must hold one whole telegram \
                 ({MAX_FRAME} bytes)"
            ),
            ConfigError::DemoAndDevice { device } => write!(
                f,
                "--demo and --device {device} both say where telegrams come from: give one"
            ),
            ConfigError::SerialOptionsOnNetwork => f.write_str(
                "--baud and --framing set up a serial port; a tcp:// source sends bytes \
                 already decoded, so leave them out",
            ),
            ConfigError::SerialOptionsOnDemo => {
                f.write_str("--baud and --framing set up a serial port; the demo meter has none")
            }
            ConfigError::ListenTwice {
                option,
                text,
                other,
            } => write!(
                f,
                "{option} {text} is given twice ({other} is the same address)"
            ),
            ConfigError::ListenOverlap {
                option,
                text,
                other,
                port,
            } => write!(
                f,
                "{option} {text} and {option} {other} overlap: [::]:{port} already serves IPv4 \
                 too; give one of them"
            ),
            ConfigError::RawWithKey => f.write_str(
                "--forward raw sends the bytes as read, so --key-file would decrypt nothing: \
                 leave one out",
            ),
            ConfigError::KeyFileEmpty { option } => write!(
                f,
                "{option} is empty: give the path of the file that holds the key"
            ),
            ConfigError::KeyOnCommandLine { option } => write!(
                f,
                "{option} takes the path of a file that holds the key, not the key itself: \
                 on the command line every user can read it (ps). Put the key in a file \
                 readable only by root (chmod 600) and give its path"
            ),
            ConfigError::Mqtt(e) => e.fmt(f),
            ConfigError::Mdns(e) => e.fmt(f),
            ConfigError::File(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ConfigError {}

impl From<MqttConfigError> for ConfigError {
    fn from(e: MqttConfigError) -> ConfigError {
        ConfigError::Mqtt(e)
    }
}

impl From<MdnsError> for ConfigError {
    fn from(e: MdnsError) -> ConfigError {
        ConfigError::Mdns(e)
    }
}

impl From<FileError> for ConfigError {
    fn from(e: FileError) -> ConfigError {
        ConfigError::File(e)
    }
}

/// A mistake in a config file: where, and what.
#[derive(Debug)]
pub struct FileError {
    pub path: PathBuf,
    /// Counted from 1; None when the file could not be read at all.
    pub line: Option<usize>,
    /// The key, as written in the file.
    pub key: Option<String>,
    pub kind: FileErrorKind,
}

/// What is wrong in a config file.
#[derive(Debug)]
pub enum FileErrorKind {
    Read(io::Error),
    /// Not TOML (or JSON): the parser's own words.
    Syntax(String),
    /// No option has this name; `suggestion` is the likely one.
    UnknownKey {
        suggestion: Option<&'static str>,
    },
    /// `config` in a config file.
    NotInFile,
    /// The same key twice (JSON; TOML's parser says so itself).
    Twice,
    /// A secret and the file that holds it: give one.
    Both {
        other: &'static str,
    },
    WrongType {
        expected: &'static str,
        found: &'static str,
    },
    /// A value the option refuses, as the command line would.
    Value(ArgError),
    /// `key` is not 32 hex digits (the message never repeats it).
    Key(KeyError),
    /// A value that only fails beside the others.
    Setting(Box<ConfigError>),
    /// The file holds a secret, and every user may read it.
    Exposed {
        mode: u32,
    },
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ", key '{key}'")?;
        }
        f.write_str(": ")?;
        match &self.kind {
            FileErrorKind::Read(e) if e.kind() == io::ErrorKind::NotFound => {
                f.write_str("no such file")
            }
            FileErrorKind::Read(e) if e.kind() == io::ErrorKind::PermissionDenied => f.write_str(
                "permission denied; make it readable by the user p1mux runs as \
                     (chgrp p1mux FILE; chmod 640 FILE)",
            ),
            FileErrorKind::Read(e) => write!(f, "{e}"),
            FileErrorKind::Syntax(message) => f.write_str(message),
            FileErrorKind::UnknownKey { suggestion } => {
                f.write_str("no such option")?;
                if let Some(name) = suggestion {
                    write!(f, "; did you mean '{name}'?")?;
                }
                f.write_str(" The keys are the long options of `p1mux serve --help`, without --")
            }
            FileErrorKind::NotInFile => {
                f.write_str("a config file cannot name another; give --config on the command line")
            }
            FileErrorKind::Twice => f.write_str("given twice; give it once"),
            FileErrorKind::Both { other } => {
                write!(f, "'{other}' is given too: give one of them")
            }
            FileErrorKind::WrongType { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            FileErrorKind::Value(e) => e.fmt(f),
            FileErrorKind::Key(e) => e.fmt(f),
            FileErrorKind::Setting(e) => e.fmt(f),
            FileErrorKind::Exposed { mode } => write!(
                f,
                "this file holds a secret and every user can read it (mode {:03o}): \
                 chmod 600 {path} (or 640 with p1mux's group), or keep the secret in its own \
                 file (key-file, mqtt-password-file)",
                mode & 0o777,
                path = self.path.display()
            ),
        }
    }
}

impl std::error::Error for FileError {}
