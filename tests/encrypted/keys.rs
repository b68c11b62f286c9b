//! Key files: from a path or systemd's credentials directory, never shown.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use p1mux::encrypted::key::{self, KeyFileError};
use p1mux::encrypted::{Authentication, Key};

use crate::frames::{KEY, KEY_HEX};

const AK_HEX: &str = "00112233 44556677 8899AABB CCDDEEFF";

/// A fresh directory, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("p1mux-keys-{}-{n}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn file(&self, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, text).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn load(key: Option<&Path>, auth: Option<&Path>, creds: Option<&Path>) -> key::Keys {
    key::load(key, auth, creds).unwrap().expect("keys")
}

#[test]
fn a_key_file_with_white_space_and_no_auth_key() {
    let dir = Dir::new();
    let path = dir.file(
        "key",
        &format!("  {}\n{}\n", &KEY_HEX[..16], &KEY_HEX[16..]),
        0o600,
    );
    let keys = load(Some(&path), None, None);
    assert_eq!(keys.key, Key::parse_hex(KEY_HEX).unwrap());
    assert!(matches!(keys.authentication, Authentication::Default));
    assert_eq!(keys.key_path, path);
    assert_eq!(keys.warnings, [] as [String; 0]);
    let debug = format!("{keys:?}");
    assert!(
        !debug.contains("0F1E") && !debug.contains("15, 30"),
        "{debug}"
    );
}

#[test]
fn the_credentials_directory_is_used_when_no_file_is_given() {
    let creds = Dir::new();
    creds.file(key::KEY_CREDENTIAL, KEY_HEX, 0o400);
    creds.file(key::AUTH_KEY_CREDENTIAL, AK_HEX, 0o400);
    let keys = load(None, None, Some(&creds.0));
    assert_eq!(keys.key_path, creds.0.join("p1mux-key"));
    assert!(matches!(keys.authentication, Authentication::Given(_)));
    // A file given on the command line wins over the credential.
    let other = Dir::new();
    let path = other.file("key", "00000000000000000000000000000000", 0o600);
    let keys = load(Some(&path), None, Some(&creds.0));
    assert_eq!(keys.key, Key::from_bytes([0; 16]));
    // No key anywhere: frames are passed through.
    let empty = Dir::new();
    assert!(key::load(None, None, Some(&empty.0)).unwrap().is_none());
    assert!(key::load(None, None, None).unwrap().is_none());
}

#[test]
fn a_readable_key_file_is_a_warning_naming_the_fix() {
    let dir = Dir::new();
    let key = dir.file("key", KEY_HEX, 0o644);
    let auth = dir.file("ak", AK_HEX, 0o640);
    let keys = load(Some(&key), Some(&auth), None);
    assert_eq!(keys.warnings.len(), 2, "{:?}", keys.warnings);
    assert!(
        keys.warnings[0].contains("every user"),
        "{}",
        keys.warnings[0]
    );
    assert!(keys.warnings[0].ends_with(&format!("chmod 600 {}", key.display())));
    assert!(
        keys.warnings[1].contains("its group (mode 640)"),
        "{}",
        keys.warnings[1]
    );
}

#[test]
fn errors_name_the_file_and_never_the_key() {
    let dir = Dir::new();
    let secret = "D491470F47126332B07D1923B3504188";
    let cases = [
        (
            &secret[..30],
            "a key is 32 hex digits (16 bytes), this one has 30",
        ),
        (
            "D491470F 4712633O B07D1923B3504188",
            "character 17 is not a hex digit",
        ),
        (
            "key = D491470F47126332B07D1923B3504188",
            "character 1 is not a hex digit",
        ),
    ];
    for (text, expected) in cases {
        let path = dir.file("bad", text, 0o600);
        let error = key::load(Some(&path), None, None).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("the key file {}: ", path.display())),
            "{error}"
        );
        assert!(error.contains(expected), "{error}");
        assert!(
            !error.contains("D491") && !error.contains("4712"),
            "{error}"
        );
    }
    let missing = dir.0.join("missing");
    let error = key::load(Some(&missing), None, None)
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        format!("reading the key file {}: no such file", missing.display())
    );
    let huge = dir.file("huge", &" ".repeat(5000), 0o600);
    let error = key::load(Some(&huge), None, None).unwrap_err().to_string();
    assert!(error.contains("not a key file"), "{error}");
}

#[test]
fn an_auth_key_without_a_key_is_an_error() {
    let dir = Dir::new();
    let auth = dir.file("ak", AK_HEX, 0o600);
    let error = key::load(None, Some(&auth), None).unwrap_err();
    assert!(matches!(error, KeyFileError::AuthKeyWithoutKey { .. }));
    assert!(error.to_string().contains("give --key-file too"), "{error}");
    let creds = Dir::new();
    creds.file(key::AUTH_KEY_CREDENTIAL, AK_HEX, 0o400);
    assert!(key::load(None, None, Some(&creds.0)).is_err());
}

#[test]
fn the_key_constants_agree() {
    assert_eq!(Key::parse_hex(KEY_HEX).unwrap(), Key::from_bytes(KEY));
}
