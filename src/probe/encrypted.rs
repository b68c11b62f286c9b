//! What `probe` says about an encrypted meter, and about the key given
//! for it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{FAILS, WORKS};
use crate::detect::Found;
use crate::encrypted::{self, Decryptor, Frame, key};
use crate::line::Setting;

/// What a key makes of an encrypted meter's frames, for the verdict.
pub struct KeyCheck {
    decryptor: Decryptor,
    path: PathBuf,
    /// Key files that others can read: notes for the report.
    warnings: Vec<String>,
    /// What the frames said so far: the last frame's diagnosis; a
    /// damaged frame says nothing about the key, so listening goes on.
    seen: Option<encrypted::Diagnosis>,
}

impl KeyCheck {
    pub fn new(keys: key::Keys) -> KeyCheck {
        KeyCheck {
            decryptor: Decryptor::new(&keys.key, keys.authentication),
            path: keys.key_path,
            warnings: keys.warnings,
            seen: None,
        }
    }

    pub(super) fn look(&mut self, frame: &Frame<'_>) {
        if !self.settled() {
            self.seen = Some(self.decryptor.diagnose(frame));
        }
    }

    /// A frame said something about the key.
    pub(super) fn settled(&self) -> bool {
        self.seen
            .is_some_and(|d| d != encrypted::Diagnosis::Damaged)
    }
}

/// The verdict for an encrypted meter: what it is, and what the key (if
/// any) makes of its frames.
pub(super) fn verdict(
    device: &Path,
    setting: Setting,
    found: &Found,
    key: Option<&KeyCheck>,
) -> (u8, String) {
    use encrypted::Diagnosis as Key;
    let dev = device.display();
    let meter = found.meter();
    let serve = format!("p1mux serve --device {dev} {}", setting.serve_args());
    let Some(key) = key else {
        let text = format!(
            "\nVerdict: it works. {} at {setting}.\n\
             Its telegrams are encrypted (as in Luxembourg and Austria). Without a key p1mux \
             passes the frames through whole, for clients that decrypt them with the meter's \
             key (Domoticz, Home Assistant); with the key from your grid operator \
             (--key-file FILE) it decrypts them once, for every client.\n\
             \nRun:\n\n    {serve}\n\n\
             (add --key-file FILE to decrypt; `p1mux probe --key-file FILE` checks that it fits)\n",
            capitalized(&meter)
        );
        return (WORKS, text);
    };
    let path = key.path.display();
    let mut text = String::new();
    for warning in &key.warnings {
        let _ = writeln!(text, "Note: {warning}.");
    }
    let (status, verdict) = match key.seen {
        Some(Key::Fits) => (
            WORKS,
            "it works, and the key fits: its frames decrypt and their tags check out".to_string(),
        ),
        Some(Key::FitsCrcOnly) => (
            WORKS,
            "it works, and the key fits: its frames decrypt to telegrams with good CRCs. Their \
             tags do not fit the Smarty authentication key, so this meter has its own: p1mux \
             checks each telegram by its CRC (give the authentication key from your grid \
             operator with --auth-key-file to check the tags too)"
                .to_string(),
        ),
        Some(Key::WrongAuthKey) => (
            FAILS,
            "the key fits, but the authentication key does not: frames decrypt to good \
             telegrams, but their tags do not fit. Check the authentication key from your grid \
             operator, or leave out --auth-key-file to check telegrams by their CRC"
                .to_string(),
        ),
        Some(Key::WrongKey) => (
            FAILS,
            "the key does not fit this meter: check the key from your grid operator".to_string(),
        ),
        Some(Key::Damaged) | None => (
            FAILS,
            "the key seems to fit (frames decrypt to text), but every frame was damaged on the \
             line: check the cable, and probe again"
                .to_string(),
        ),
    };
    let _ = write!(
        text,
        "\nVerdict: {verdict}.\n{} at {setting}; the key in {path}.\n",
        capitalized(&meter)
    );
    let key_option = if key_from_credentials(&key.path) {
        String::new()
    } else {
        format!(" --key-file {path}")
    };
    if status == WORKS {
        let _ = write!(text, "\nRun:\n\n    {serve}{key_option}\n");
    } else {
        let _ = write!(
            text,
            "\nWhen fixed, check again with:\n\n    p1mux probe --device {dev}{key_option}\n"
        );
    }
    (status, text)
}

/// The key came from systemd's credentials directory, not `--key-file`.
fn key_from_credentials(path: &Path) -> bool {
    key::credentials_directory().is_some_and(|dir| path.starts_with(dir))
}

/// "An encrypted meter ...", for the start of a sentence.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}
