//! Encrypted P1: the binary DLMS frames that Luxembourg's Smarty meters and
//! several Austrian meters send instead of DSMR text.
//!
//! Pure code, like the text framer: bytes in, frames, telegrams and rejects
//! out, no I/O except reading key files ([`key`]). The bytes flow
//!
//! ```text
//! port bytes -> Splitter -+-> Piece::Text  -> text Framer (a DSMR text meter)
//!                         +-> Piece::Frame -> without a key: forward frame.bytes whole
//!                         |                   with a key: Decryptor -> plaintext
//!                         |                        -> a Framer of its own (CRC) -> forward
//!                         +-> Piece::Rejected (structure), Decryptor rejects (auth, counter)
//! ```
//!
//! A frame (general-glo-ciphering APDU) is `0xDB 0x08`, an 8-byte system
//! title, a BER length, and that many bytes: security byte `0x30`, a 4-byte
//! frame counter, the ciphertext and a 12-byte GCM tag. AES-128-GCM with
//! nonce = system title || frame counter and AAD = security byte || AK.
//!
//! The keys come from files ([`key::load`]: `--key-file`, `--auth-key-file`
//! or systemd's credentials directory); without a key, frames are passed
//! through whole.
//!
//! ```
//! use p1mux::encrypted::{Authentication, Decryptor, Key, Piece, Splitter};
//! use p1mux::framer::{Event, Framer, Parity};
//!
//! let key = Key::parse_hex("000102030405060708090A0B0C0D0E0F").unwrap();
//! let mut decryptor = Decryptor::new(&key, Authentication::Default);
//! let (mut splitter, mut text, mut plain) = (
//!     Splitter::new(),
//!     Framer::new(Parity::None),
//!     Framer::new(Parity::None),
//! );
//! # let bytes: &[u8] = b"";
//! splitter.push(bytes, |piece| match piece {
//!     Piece::Text(run) => text.push(run, |_event| { /* as today */ }),
//!     Piece::Frame(frame) => match decryptor.decrypt(&frame) {
//!         Ok(plaintext) => plain.push(plaintext, |event| {
//!             if let Event::Telegram(t) = event { /* forward t.bytes */ }
//!         }),
//!         Err(_reason) => { /* count it */ }
//!     },
//!     Piece::Rejected(_reason) => { /* count it */ }
//! });
//! if let Some(news) = decryptor.news() {
//!     // log news.message() once
//! }
//! ```

mod decrypt;
mod fit;
mod frame;
pub mod key;
mod splitter;

pub use decrypt::{Authentication, COUNTER_RESTART_AFTER, Decryptor, SMARTY_AUTH_KEY};
pub use fit::{Diagnosis, KeyNews};
pub use frame::{Frame, SystemTitle};
pub use key::{AuthKey, Key};
pub use splitter::{Piece, Splitter};

/// How logs, the status page and `probe` name an encrypted meter: "an
/// encrypted meter (system title SAG-1905004217, frame counter 23)".
pub fn describe_meter(title: SystemTitle, frame_counter: u32) -> String {
    format!("an encrypted meter (system title {title}, frame counter {frame_counter})")
}

/// Longest frame accepted, all its bytes from 0xDB through the tag. Smarty
/// frames are about 650 bytes; the plaintext inside must also fit the text
/// framer's bound ([`crate::framer::MAX_FRAME`], the same 8 KiB).
pub const MAX_FRAME: usize = 8192;

/// Bytes of the GCM tag at the end of every frame.
pub const TAG_LEN: usize = 12;

/// The only security control byte accepted: authenticated and encrypted,
/// security suite 0 (AES-128-GCM).
pub const SECURITY_BYTE: u8 = 0x30;

/// Why something that began as an encrypted frame was not forwarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// A frame header whose system-title length byte is not 8: everything
    /// else about it fits, so that one byte was damaged on the line.
    TitleLength,
    /// The BER length cannot be a frame's: shorter than the security
    /// byte, frame counter and tag, or the indefinite form 0x80.
    Length,
    /// The BER length claims more than [`MAX_FRAME`] bytes.
    Oversize,
    /// The security control byte is not 0x30: damaged, or a security
    /// suite this meter type does not use.
    Security,
    /// A new frame from the same meter began before this one's length
    /// was reached: bytes were lost on the line.
    Truncated,
    /// The frame does not authenticate: its GCM tag does not fit (wrong
    /// key, wrong authentication key, or damaged), or, for a meter whose
    /// authentication key is unknown, its plaintext fails the CRC.
    Auth,
    /// The frame counter did not increase: a repeated or replayed frame.
    Counter,
}

impl Reject {
    /// Every reason, in the order stats print them.
    pub const ALL: [Reject; 7] = [
        Reject::TitleLength,
        Reject::Length,
        Reject::Oversize,
        Reject::Security,
        Reject::Truncated,
        Reject::Auth,
        Reject::Counter,
    ];

    /// Short name for logs and stats. Distinct from the text framer's
    /// names (a decrypted telegram with a bad CRC counts as its "crc").
    pub fn name(self) -> &'static str {
        match self {
            Reject::TitleLength => "enc-title-length",
            Reject::Length => "enc-length",
            Reject::Oversize => "enc-oversize",
            Reject::Security => "enc-security",
            Reject::Truncated => "enc-truncated",
            Reject::Auth => "auth",
            Reject::Counter => "counter",
        }
    }

    /// Position in [`Reject::ALL`], for per-reason counters.
    pub fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_indexes_match() {
        for (i, reason) in Reject::ALL.iter().enumerate() {
            assert_eq!(reason.index(), i);
        }
        let mut names: Vec<_> = Reject::ALL.iter().map(|r| r.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Reject::ALL.len());
        for text in crate::framer::Reject::ALL {
            assert!(
                !names.contains(&text.name()),
                "{} is the framer's",
                text.name()
            );
        }
    }
}
