//! Meter keys: 32 hex digits in a file, never on the command line (where
//! `ps` shows them), and never in a log line, an error or Debug output.
//!
//! Where they come from, first found wins:
//! - the key: `--key-file PATH`, else `$CREDENTIALS_DIRECTORY/p1mux-key`
//!   (systemd's `LoadCredential=p1mux-key:/etc/p1mux/key`);
//! - the authentication key: `--auth-key-file PATH`, else
//!   `$CREDENTIALS_DIRECTORY/p1mux-auth-key`; without one, the Smarty AK.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::Authentication;

/// The credential name of the key under `$CREDENTIALS_DIRECTORY`.
pub const KEY_CREDENTIAL: &str = "p1mux-key";
/// The credential name of the authentication key.
pub const AUTH_KEY_CREDENTIAL: &str = "p1mux-auth-key";

/// Longest key file read: a key with generous white space, not a log file
/// named by mistake.
const MAX_FILE: u64 = 4096;

/// The encryption key (GUEK) from the grid operator.
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; 16]);

/// The authentication key (AK): part of the authenticated data.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthKey([u8; 16]);

impl Key {
    pub fn from_bytes(bytes: [u8; 16]) -> Key {
        Key(bytes)
    }

    /// 32 hex digits, white space anywhere ignored.
    pub fn parse_hex(text: &str) -> Result<Key, KeyError> {
        parse_hex(text.as_bytes()).map(Key)
    }

    pub(crate) fn bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl AuthKey {
    pub const fn from_bytes(bytes: [u8; 16]) -> AuthKey {
        AuthKey(bytes)
    }

    /// 32 hex digits, white space anywhere ignored.
    pub fn parse_hex(text: &str) -> Result<AuthKey, KeyError> {
        parse_hex(text.as_bytes()).map(AuthKey)
    }

    pub(crate) fn bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(redacted)")
    }
}

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthKey(redacted)")
    }
}

/// Why text is not a key. Says where, never what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// Not 32 hex digits.
    Length { digits: usize },
    /// The byte at this position (counted from 1) is neither a hex digit
    /// nor white space.
    NotHex { position: usize },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            KeyError::Length { digits } => write!(
                f,
                "a key is 32 hex digits (16 bytes), this one has {digits}"
            ),
            KeyError::NotHex { position } => write!(
                f,
                "character {position} is not a hex digit (a key is 32 of 0-9 and A-F; \
                 white space is ignored)"
            ),
        }
    }
}

impl std::error::Error for KeyError {}

fn parse_hex(text: &[u8]) -> Result<[u8; 16], KeyError> {
    // Editors on Windows may start a file with a byte order mark.
    let (skipped, text) = match text.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (3, rest),
        None => (0, text),
    };
    let mut key = [0; 16];
    let mut digits = 0;
    for (at, &c) in text.iter().enumerate() {
        if c.is_ascii_whitespace() {
            continue;
        }
        let nibble = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => {
                return Err(KeyError::NotHex {
                    position: skipped + at + 1,
                });
            }
        };
        if let Some(byte) = key.get_mut(digits / 2) {
            *byte |= nibble << if digits % 2 == 0 { 4 } else { 0 };
        }
        digits += 1;
    }
    if digits == 32 {
        Ok(key)
    } else {
        Err(KeyError::Length { digits })
    }
}

/// Why the keys could not be had. Names the file, never its contents.
#[derive(Debug)]
pub enum KeyFileError {
    Read {
        path: PathBuf,
        error: io::Error,
    },
    Parse {
        path: PathBuf,
        error: KeyError,
    },
    /// An authentication key, but no key to decrypt with.
    AuthKeyWithoutKey {
        path: PathBuf,
    },
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyFileError::Read { path, error } => {
                let path = path.display();
                match error.kind() {
                    io::ErrorKind::NotFound => {
                        write!(f, "reading the key file {path}: no such file")
                    }
                    io::ErrorKind::PermissionDenied => write!(
                        f,
                        "reading the key file {path}: permission denied; make it readable by \
                         the user p1mux runs as, or pass it with LoadCredential= in the unit"
                    ),
                    _ => write!(f, "reading the key file {path}: {error}"),
                }
            }
            KeyFileError::Parse { path, error } => {
                write!(f, "the key file {}: {error}", path.display())
            }
            KeyFileError::AuthKeyWithoutKey { path } => write!(
                f,
                "{} holds an authentication key, but there is no key to decrypt with: \
                 give --key-file too",
                path.display()
            ),
        }
    }
}

impl std::error::Error for KeyFileError {}

/// A key read from a file.
#[derive(Debug)]
pub struct KeyFile<K> {
    pub key: K,
    /// Where it was read, for messages.
    pub path: PathBuf,
    /// The file can be read by others than its owner: a message to log.
    pub warning: Option<String>,
}

/// Reads a key from `path`.
pub fn read_key(path: &Path) -> Result<KeyFile<Key>, KeyFileError> {
    read(path, Key)
}

/// Reads an authentication key from `path`.
pub fn read_auth_key(path: &Path) -> Result<KeyFile<AuthKey>, KeyFileError> {
    read(path, AuthKey)
}

fn read<K>(path: &Path, wrap: fn([u8; 16]) -> K) -> Result<KeyFile<K>, KeyFileError> {
    let failed = |error| KeyFileError::Read {
        path: path.to_owned(),
        error,
    };
    let file = File::open(path).map_err(failed)?;
    let mode = file.metadata().map_err(failed)?.permissions().mode();
    let mut text = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut text)
        .map_err(failed)?;
    if text.len() as u64 > MAX_FILE {
        return Err(failed(io::Error::other(format!(
            "longer than {MAX_FILE} bytes: not a key file"
        ))));
    }
    let key = parse_hex(&text).map_err(|error| KeyFileError::Parse {
        path: path.to_owned(),
        error,
    })?;
    Ok(KeyFile {
        key: wrap(key),
        path: path.to_owned(),
        warning: exposed(path, mode),
    })
}

/// A warning when group or others may read the file.
fn exposed(path: &Path, mode: u32) -> Option<String> {
    let who = match (mode & 0o040 != 0, mode & 0o004 != 0) {
        (false, false) => return None,
        (true, false) => "its group",
        (false, true) => "every user",
        (true, true) => "its group and every user",
    };
    let path = path.display();
    Some(format!(
        "the key file {path} can be read by {who} (mode {:03o}): chmod 600 {path}",
        mode & 0o777
    ))
}

/// `$CREDENTIALS_DIRECTORY`, set by systemd for a unit with
/// `LoadCredential=`.
pub fn credentials_directory() -> Option<PathBuf> {
    std::env::var_os("CREDENTIALS_DIRECTORY")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
}

/// The keys to decrypt with.
#[derive(Debug)]
pub struct Keys {
    pub key: Key,
    pub authentication: Authentication,
    /// Where the key was read, for the startup log line.
    pub key_path: PathBuf,
    /// Messages to log: key files that others can read.
    pub warnings: Vec<String>,
}

/// The keys from the given files, else from the credentials directory;
/// `None` when there is no key (frames are then forwarded as they are).
pub fn load(
    key_file: Option<&Path>,
    auth_key_file: Option<&Path>,
    credentials: Option<&Path>,
) -> Result<Option<Keys>, KeyFileError> {
    let credential = |name: &str| {
        credentials
            .map(|dir| dir.join(name))
            .filter(|path| path.exists())
    };
    let key_path = key_file
        .map(Path::to_owned)
        .or_else(|| credential(KEY_CREDENTIAL));
    let auth_path = auth_key_file
        .map(Path::to_owned)
        .or_else(|| credential(AUTH_KEY_CREDENTIAL));
    let Some(key_path) = key_path else {
        return match auth_path {
            Some(path) => Err(KeyFileError::AuthKeyWithoutKey { path }),
            None => Ok(None),
        };
    };
    let key = read_key(&key_path)?;
    let mut warnings: Vec<String> = key.warning.into_iter().collect();
    let authentication = match auth_path {
        Some(path) => {
            let auth = read_auth_key(&path)?;
            warnings.extend(auth.warning);
            Authentication::Given(auth.key)
        }
        None => Authentication::Default,
    };
    Ok(Some(Keys {
        key: key.key,
        authentication,
        key_path,
        warnings,
    }))
}

/// The keys `serve` decrypts with: [`load`] from the given files or
/// systemd's credentials, with what the log should say about them (where
/// the key came from, never the key). A key file that cannot be read or
/// is no key stops p1mux from starting.
pub fn load_for_serve(
    key_file: Option<&Path>,
    auth_key_file: Option<&Path>,
) -> Result<Option<Keys>, KeyFileError> {
    let credentials = credentials_directory();
    let keys = load(key_file, auth_key_file, credentials.as_deref())?;
    if let Some(keys) = &keys {
        keys.warnings.iter().for_each(|w| log::warn!("{w}"));
        let auth = match keys.authentication {
            Authentication::Default => "",
            Authentication::Given(_) => " and the authentication key given",
        };
        log::info!(
            "encrypted frames will be decrypted with the key in {}{auth}",
            keys.key_path.display()
        );
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_with_white_space() {
        let key = Key::parse_hex(" 0001 0203 0405 0607\n0809 0A0B 0c0d 0E0F\r\n").unwrap();
        assert_eq!(key.bytes(), &core::array::from_fn(|i| i as u8));
        let bom = parse_hex(b"\xEF\xBB\xBF000102030405060708090a0b0c0d0e0f\n").unwrap();
        assert_eq!(&bom, key.bytes());
    }

    #[test]
    fn errors_say_where_not_what() {
        let secret = "D491470F47126332B07D1923B350418";
        let short = Key::parse_hex(secret).unwrap_err();
        assert_eq!(short, KeyError::Length { digits: 31 });
        let long = Key::parse_hex(&format!("{secret}88")).unwrap_err();
        assert_eq!(long, KeyError::Length { digits: 33 });
        let typo = Key::parse_hex("D491470F4712633ZB07D1923B3504188").unwrap_err();
        assert_eq!(typo, KeyError::NotHex { position: 16 });
        assert_eq!(
            parse_hex(b"\xEF\xBB\xBFx"),
            Err(KeyError::NotHex { position: 4 })
        );
        for error in [short, long, typo] {
            assert!(!error.to_string().contains("D491"), "{error}");
        }
    }

    #[test]
    fn debug_output_hides_keys() {
        let key = Key::parse_hex("D491470F47126332B07D1923B3504188").unwrap();
        let debug = format!("{key:?} {:?}", AuthKey::from_bytes(*key.bytes()));
        assert!(!debug.contains("D4") && !debug.contains("212"), "{debug}");
    }

    #[test]
    fn group_or_world_readable_is_a_warning() {
        let path = Path::new("/etc/p1mux/key");
        assert_eq!(exposed(path, 0o100600), None);
        assert_eq!(exposed(path, 0o100400), None);
        let warning = exposed(path, 0o100644).unwrap();
        assert!(
            warning.contains("its group and every user (mode 644)"),
            "{warning}"
        );
        assert!(warning.ends_with("chmod 600 /etc/p1mux/key"));
        assert!(
            exposed(path, 0o100640)
                .unwrap()
                .contains("by its group (mode 640)")
        );
    }
}
