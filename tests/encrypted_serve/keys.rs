//! Key files at start-up: read from `--key-file` or systemd's credentials
//! directory, their path logged and never their contents; a key that
//! cannot be had stops p1mux (exit 1), a key on the command line is a
//! usage error (exit 2).

use std::os::unix::fs::PermissionsExt;

use crate::common::*;
use crate::frames::KEY_HEX;
use crate::key_file;

/// `p1mux serve --device demo ARGS` with `CREDENTIALS_DIRECTORY` set to
/// `credentials` (or unset).
fn serve(args: &[&str], credentials: Option<&str>) -> P1mux {
    let mut all = vec!["serve", "--listen", "127.0.0.1:0", "--device", "demo"];
    all.extend_from_slice(args);
    P1mux::spawn(&all, |cmd| {
        cmd.env_remove("CREDENTIALS_DIRECTORY");
        if let Some(dir) = credentials {
            cmd.env("CREDENTIALS_DIRECTORY", dir);
        }
    })
}

#[test]
fn a_key_that_cannot_be_had_stops_p1mux_and_says_why_without_showing_it() {
    let dir = TempDir::new("key-errors");
    let missing = dir.0.join("nowhere");
    let (code, log) = serve(&["--key-file", missing.to_str().unwrap()], None).finish();
    assert_eq!(code, Some(1), "{log}");
    let want = format!("reading the key file {}: no such file", missing.display());
    assert!(log.contains(&want), "{log}");
    assert!(!log.contains("listening on"), "stops before serving: {log}");

    let typo = key_file(&dir, "typo", "D491470F4712633ZB07D1923B3504188");
    let (code, log) = serve(&["--key-file", typo.to_str().unwrap()], None).finish();
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("character 16 is not a hex digit"), "{log}");
    assert!(!log.contains("D491") && !log.contains("B350"), "{log}");

    let auth = key_file(&dir, "auth", KEY_HEX);
    let (code, log) = serve(&["--auth-key-file", auth.to_str().unwrap()], None).finish();
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("there is no key to decrypt with"), "{log}");

    let (code, log) = serve(&["--key-file", KEY_HEX], None).finish();
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains("not the key itself"), "{log}");
    assert!(!log.contains(&KEY_HEX[..8]), "{log}");
}

#[test]
fn keys_come_from_a_file_or_from_systemd_credentials() {
    let dir = TempDir::new("key-sources");
    let key = key_file(&dir, "key", KEY_HEX);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let p1mux = serve(&["--key-file", key.to_str().unwrap()], None);
    let warning = p1mux.wait_for("can be read by");
    let shown = key.display();
    assert!(
        warning.contains(&format!(
            "its group and every user (mode 644): chmod 600 {shown}"
        )),
        "{warning}"
    );
    p1mux.wait_for(&format!(
        "encrypted frames will be decrypted with the key in {shown}"
    ));
    p1mux.wait_for("listening on");
    assert!(!p1mux.log_text().contains(&KEY_HEX[..8]));
    drop(p1mux);

    // LoadCredential=p1mux-key:/etc/p1mux/key, and an authentication key too.
    let credentials = TempDir::new("key-credentials");
    key_file(&credentials, "p1mux-key", KEY_HEX);
    key_file(
        &credentials,
        "p1mux-auth-key",
        "00112233445566778899AABBCCDDEEFF",
    );
    let p1mux = serve(&[], credentials.0.to_str());
    p1mux.wait_for(&format!(
        "encrypted frames will be decrypted with the key in {} and the authentication key given",
        credentials.0.join("p1mux-key").display()
    ));
    p1mux.wait_for("listening on");
    let log = p1mux.log_text();
    assert!(!log.contains("can be read by"), "{log}");
}
