//! Decrypts and checks frames: AES-128-GCM, the tag, the frame counter.
//!
//! Rules, and why:
//! - The tag is checked (Domoticz and Home Assistant skip it): it is what
//!   tells a wrong key from a damaged frame. When it fails, the ciphertext
//!   is still decrypted (counter mode needs no tag) to see what the keys
//!   are worth: noise means a wrong key, a good telegram a wrong
//!   authentication key (AK), mostly text a damaged frame.
//! - With [`Authentication::Default`] (the public Smarty AK) a meter whose
//!   tags have never fitted is taken to have an AK nobody gave us, as
//!   several Austrian meters do: its telegrams are accepted when their CRC
//!   is good, as Domoticz would, and the user is told once. Once a tag of a
//!   meter fits, its tags must fit. A given AK ([`Authentication::Given`])
//!   is always required.
//! - The frame counter must increase, per system title: a repeated frame
//!   (a network source replaying its buffer after a reconnect) is dropped.
//!   A new system title is a new meter and starts the rule afresh. DLMS
//!   meters never reuse a counter under one key, so a counter that goes
//!   back is a replay, not a reboot; should a meter restart its counter
//!   anyway, [`COUNTER_RESTART_AFTER`] frames in a row counting up from the
//!   new value are believed, so that an unattended gateway recovers.
//!   Counters live in memory: a restarted p1mux starts afresh.

use std::fmt;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::aes::Aes128;
use aes_gcm::aes::cipher::consts::U12;
use aes_gcm::{AesGcm, Nonce, Tag};
use crc::{CRC_16_ARC, Crc};
use memchr::memrchr;

use super::fit::{Diagnosis, KeyFit, KeyNews};
use super::{AuthKey, Frame, Key, Reject, SystemTitle};

/// AES-128-GCM with the 12-byte nonce and the 12-byte tag DLMS uses.
type Cipher = AesGcm<Aes128, U12, U12>;

static CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_ARC);

/// The authentication key of every Luxembourg Smarty meter, fixed and
/// public (the Smarty P1 companion specification).
pub const SMARTY_AUTH_KEY: AuthKey = AuthKey::from_bytes([
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF,
]);

/// Frames in a row, counting up from below the last counter accepted,
/// after which a meter is believed to have restarted its frame counter:
/// an hour of Smarty frames, longer than any replay of a buffer.
pub const COUNTER_RESTART_AFTER: u32 = 360;

/// Which authentication key checks the tags.
#[derive(Clone, Debug)]
pub enum Authentication {
    /// The Smarty AK; a meter whose tags never fit it is checked by CRC.
    Default,
    /// An AK from the grid operator (`--auth-key-file`): tags must fit it.
    Given(AuthKey),
}

/// Decrypts the frames of one meter (or of its successors).
pub struct Decryptor {
    cipher: Cipher,
    /// The AK, the second part of the authenticated data.
    auth_key: AuthKey,
    /// The AK was given, so tags must fit from the first frame.
    auth_given: bool,
    /// A meter whose tags fitted: from then on its tags must.
    tags_fit: Option<SystemTitle>,
    counters: Counters,
    fit: KeyFit,
    /// The last plaintext, reused so that decrypting does not allocate.
    plaintext: Vec<u8>,
}

/// Never shows the keys.
impl fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decryptor")
            .field("auth_given", &self.auth_given)
            .field("tags_fit", &self.tags_fit)
            .field("counters", &self.counters)
            .field("fit", &self.fit)
            .finish_non_exhaustive()
    }
}

impl Decryptor {
    pub fn new(key: &Key, authentication: Authentication) -> Decryptor {
        let (auth_key, auth_given) = match authentication {
            Authentication::Default => (SMARTY_AUTH_KEY, false),
            Authentication::Given(ak) => (ak, true),
        };
        Decryptor {
            cipher: Cipher::new(&(*key.bytes()).into()),
            auth_key,
            auth_given,
            tags_fit: None,
            counters: Counters::default(),
            fit: KeyFit::default(),
            plaintext: Vec::with_capacity(1024),
        }
    }

    /// The plaintext telegram of `frame`, for the text framer (which checks
    /// its CRC), or why there is none. Counts towards [`Decryptor::news`].
    pub fn decrypt(&mut self, frame: &Frame<'_>) -> Result<&[u8], Reject> {
        let diagnosis = self.open(frame);
        self.fit.record(diagnosis);
        if !diagnosis.accepted() {
            return Err(Reject::Auth);
        }
        if diagnosis == Diagnosis::Fits {
            self.tags_fit = Some(frame.system_title);
        }
        if !self.counters.admit(frame.system_title, frame.frame_counter) {
            return Err(Reject::Counter);
        }
        Ok(&self.plaintext)
    }

    /// What `frame` says about the keys, without counting it anywhere:
    /// for `p1mux probe`.
    pub fn diagnose(&mut self, frame: &Frame<'_>) -> Diagnosis {
        self.open(frame)
    }

    /// A change in whether the key fits, to log once; see [`KeyNews`].
    pub fn news(&mut self) -> Option<KeyNews> {
        self.fit.take_news()
    }

    /// Decrypts into `self.plaintext`, whether the tag fits or not, and
    /// says what the result is worth.
    fn open(&mut self, frame: &Frame<'_>) -> Diagnosis {
        let nonce = Nonce::<U12>::from(frame.nonce());
        let mut aad = [0; 17];
        aad[0] = frame.security();
        aad[1..].copy_from_slice(self.auth_key.bytes());
        let tag = Tag::<U12>::from(*frame.tag());
        self.plaintext.clear();
        self.plaintext.extend_from_slice(frame.ciphertext());
        let opened = self.cipher.decrypt_inout_detached(
            &nonce,
            &aad,
            self.plaintext.as_mut_slice().into(),
            &tag,
        );
        if opened.is_ok() {
            return Diagnosis::Fits;
        }
        // The buffer still holds the ciphertext. GCM encrypts by XOR with
        // the same keystream, so encrypting it decrypts it (the tag that
        // comes out is meaningless).
        let keystream =
            self.cipher
                .encrypt_inout_detached(&nonce, &aad, self.plaintext.as_mut_slice().into());
        if keystream.is_err() {
            // Only for inputs of gigabytes.
            return Diagnosis::WrongKey;
        }
        if is_telegram(&self.plaintext) {
            if self.auth_given || self.tags_fit == Some(frame.system_title) {
                Diagnosis::WrongAuthKey
            } else {
                Diagnosis::FitsCrcOnly
            }
        } else if looks_like_text(&self.plaintext) {
            Diagnosis::Damaged
        } else {
            Diagnosis::WrongKey
        }
    }
}

/// A whole DSMR 5 telegram, '/' to "!XXXX\r\n", whose CRC is good.
fn is_telegram(plain: &[u8]) -> bool {
    let Some(bang) = memrchr(b'!', plain) else {
        return false;
    };
    let Some(digits) = plain.get(bang + 1..) else {
        return false;
    };
    let Some(hex) = digits.strip_suffix(b"\r\n") else {
        return false;
    };
    let sent = std::str::from_utf8(hex)
        .ok()
        .filter(|hex| hex.len() == 4)
        .and_then(|hex| u16::from_str_radix(hex, 16).ok());
    plain.first() == Some(&b'/') && sent == Some(CRC16.checksum(&plain[..=bang]))
}

/// Three quarters printable ASCII or line ends: a telegram with a few bits
/// flipped. Random bytes (a wrong key) are about 38% that.
fn looks_like_text(plain: &[u8]) -> bool {
    let text = plain
        .iter()
        .filter(|&&b| matches!(b, b' '..=b'~' | b'\r' | b'\n'))
        .count();
    !plain.is_empty() && text * 4 >= plain.len() * 3
}

/// The frame counter rule, for one meter at a time.
#[derive(Debug, Default)]
struct Counters {
    /// The meter whose counter is followed.
    title: Option<SystemTitle>,
    /// Its highest counter accepted.
    last: u32,
    /// Frames in a row below `last`, each above the one before.
    behind: u32,
    /// The counter of the last of those.
    behind_last: u32,
}

impl Counters {
    fn admit(&mut self, title: SystemTitle, counter: u32) -> bool {
        if self.title != Some(title) || counter > self.last {
            *self = Counters {
                title: Some(title),
                last: counter,
                ..Counters::default()
            };
            return true;
        }
        let counts_up = self.behind > 0 && counter > self.behind_last;
        self.behind = if counts_up { self.behind + 1 } else { 1 };
        self.behind_last = counter;
        if self.behind >= COUNTER_RESTART_AFTER {
            self.last = counter;
            self.behind = 0;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: SystemTitle = SystemTitle(*b"SAGAAAAA");
    const B: SystemTitle = SystemTitle(*b"SAGBBBBB");

    #[test]
    fn counters_must_increase_per_meter() {
        let mut c = Counters::default();
        let seen: Vec<bool> = [
            (A, 5),
            (A, 6),
            (A, 6),
            (A, 4),
            (A, 7),
            (B, 1),
            (B, 2),
            (A, 3),
        ]
        .iter()
        .map(|&(t, n)| c.admit(t, n))
        .collect();
        assert_eq!(seen, [true, true, false, false, true, true, true, true]);
    }

    #[test]
    fn a_restarted_counter_is_believed_after_a_long_run_up() {
        let mut c = Counters::default();
        assert!(c.admit(A, 1_000_000));
        let run = COUNTER_RESTART_AFTER;
        for n in 1..run {
            assert!(!c.admit(A, n), "frame {n} of the run");
        }
        assert!(c.admit(A, run));
        assert!(c.admit(A, run + 1));
        // A repeated frame never counts up.
        let mut c = Counters::default();
        assert!(c.admit(A, 10));
        assert!((0..2 * run).all(|_| !c.admit(A, 9)));
    }

    #[test]
    fn telegram_and_text_checks() {
        let body = b"/Lux5\\2\r\n\r\n1-0:1.8.0(000006.695*kWh)\r\n!";
        let mut tel = body.to_vec();
        tel.extend_from_slice(format!("{:04X}\r\n", CRC16.checksum(body)).as_bytes());
        assert!(is_telegram(&tel));
        assert!(looks_like_text(&tel));
        let mut bad = tel.clone();
        bad[12] ^= 0x01;
        assert!(!is_telegram(&bad) && looks_like_text(&bad));
        assert!(!is_telegram(&tel[..tel.len() - 1]));
        assert!(!is_telegram(&tel[1..]));
        let noise: Vec<u8> = (0..600u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert!(!looks_like_text(&noise));
        assert!(!looks_like_text(&[]));
    }
}
