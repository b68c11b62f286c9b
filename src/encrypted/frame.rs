//! The layout of one general-glo-ciphering frame, and how much of a frame
//! a prefix of bytes proves.

use std::fmt;

use super::{MAX_FRAME, Reject, SECURITY_BYTE, TAG_LEN};

/// The general-glo-ciphering APDU tag.
pub(crate) const START: u8 = 0xDB;
/// System titles are 8 bytes; the length byte after the tag says so.
pub(crate) const TITLE_LEN: u8 = 0x08;
/// Security byte, frame counter and tag: what even an empty ciphertext
/// needs in the body.
const MIN_BODY: usize = 1 + 4 + TAG_LEN;

/// A meter's system title: 3 letters of manufacturer (FLAG id) and 5
/// bytes of serial number. Part of the nonce, and how a meter is told apart
/// from the one that replaced it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SystemTitle(pub [u8; 8]);

impl SystemTitle {
    /// The manufacturer's three letters, "SAG" for Sagemcom.
    pub fn manufacturer(&self) -> &str {
        // The splitter only takes titles that begin with 3 ASCII letters;
        // a title built by hand may not.
        std::str::from_utf8(&self.0[..3]).unwrap_or("???")
    }
}

/// "SAG-677001BD54": the letters as text, the serial bytes in hex.
impl fmt::Display for SystemTitle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.manufacturer())?;
        f.write_str("-")?;
        self.0[3..].iter().try_for_each(|b| write!(f, "{b:02X}"))
    }
}

impl fmt::Debug for SystemTitle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SystemTitle({self})")
    }
}

/// One encrypted frame, structurally whole (not yet decrypted).
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// The frame as it came off the wire, 0xDB through the tag: what a
    /// client that holds the key gets, byte-identical.
    pub bytes: &'a [u8],
    /// Who sent it; the first half of the nonce.
    pub system_title: SystemTitle,
    /// Increases with every frame; the second half of the nonce.
    pub frame_counter: u32,
    /// Where the security byte is in `bytes` (after the BER length).
    security_at: usize,
}

impl<'a> Frame<'a> {
    /// `bytes` as one frame, if they are exactly one (for tools and tests:
    /// the splitter finds frames in a stream).
    pub fn parse(bytes: &'a [u8]) -> Option<Frame<'a>> {
        match judge(bytes) {
            Header::Frame { len, security_at } if len == bytes.len() => {
                Some(Frame::new(bytes, security_at))
            }
            _ => None,
        }
    }

    /// `bytes` has been judged a whole frame with its security byte at
    /// `security_at`.
    pub(crate) fn new(bytes: &'a [u8], security_at: usize) -> Frame<'a> {
        let mut counter = [0; 4];
        counter.copy_from_slice(&bytes[security_at + 1..security_at + 5]);
        Frame {
            bytes,
            system_title: Frame::title_of(bytes),
            frame_counter: u32::from_be_bytes(counter),
            security_at,
        }
    }

    /// The system title of a frame that starts `bytes` (of at least 10).
    pub(crate) fn title_of(bytes: &[u8]) -> SystemTitle {
        let mut title = [0; 8];
        title.copy_from_slice(&bytes[2..10]);
        SystemTitle(title)
    }

    /// The security control byte (always [`SECURITY_BYTE`]); the first
    /// byte of the authenticated data.
    pub fn security(&self) -> u8 {
        self.bytes[self.security_at]
    }

    /// System title then frame counter, as they are on the wire.
    pub fn nonce(&self) -> [u8; 12] {
        let mut nonce = [0; 12];
        nonce[..8].copy_from_slice(&self.system_title.0);
        nonce[8..].copy_from_slice(&self.frame_counter.to_be_bytes());
        nonce
    }

    /// The encrypted telegram: after the frame counter, before the tag.
    pub fn ciphertext(&self) -> &'a [u8] {
        &self.bytes[self.security_at + 5..self.bytes.len() - TAG_LEN]
    }

    /// The GCM tag, the frame's last 12 bytes.
    pub fn tag(&self) -> &'a [u8; TAG_LEN] {
        let at = self.bytes.len() - TAG_LEN;
        self.bytes[at..]
            .try_into()
            .expect("a frame ends with its tag")
    }
}

/// What the first bytes of a candidate (starting with 0xDB) prove.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Header {
    /// Not decided yet: more bytes are needed.
    NeedMore,
    /// Not a frame: a 0xDB among other bytes. Nothing to report.
    NotAFrame,
    /// A frame header with one thing wrong: worth counting.
    Bad(Reject),
    /// A frame header: the frame is `len` bytes long, its security byte at
    /// `security_at`.
    Frame { len: usize, security_at: usize },
}

/// Judges the start of a candidate, `prefix[0]` being 0xDB, from as few
/// bytes as decide it (at most 14). A header must have 3 ASCII letters
/// where the manufacturer's id is, a BER length in one of the three forms
/// frames use, and 0x30 after it: a run of binary noise passes all that
/// about once in 2^32 bytes, a DSMR text stream never (see the splitter).
/// A header with the wrong system-title length byte is only reported when
/// everything else fits, so that noise with a 0xDB in it is not counted.
pub(crate) fn judge(prefix: &[u8]) -> Header {
    debug_assert_eq!(prefix.first(), Some(&START));
    let Some(&title_len) = prefix.get(1) else {
        return Header::NeedMore;
    };
    let verdict = judge_rest(prefix);
    if title_len == TITLE_LEN {
        return verdict;
    }
    match verdict {
        Header::NeedMore => Header::NeedMore,
        Header::Frame { .. } => Header::Bad(Reject::TitleLength),
        Header::NotAFrame | Header::Bad(_) => Header::NotAFrame,
    }
}

/// [`judge`] past the system-title length byte, as if it were 8.
fn judge_rest(prefix: &[u8]) -> Header {
    let letters = prefix.get(2..prefix.len().min(5)).unwrap_or_default();
    if !letters.iter().all(u8::is_ascii_alphabetic) {
        return Header::NotAFrame;
    }
    let Some(&form) = prefix.get(10) else {
        return Header::NeedMore;
    };
    let (body, security_at) = match form {
        0x00..=0x7F => (Some(usize::from(form)), 11),
        0x81 => (prefix.get(11).map(|&b| usize::from(b)), 12),
        0x82 => (
            prefix
                .get(11..13)
                .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]]))),
            13,
        ),
        0x80 => return Header::Bad(Reject::Length),
        // 3 or more length bytes: 64 KiB and up.
        _ => return Header::Bad(Reject::Oversize),
    };
    let Some(body) = body else {
        return Header::NeedMore;
    };
    if body < MIN_BODY {
        return Header::Bad(Reject::Length);
    }
    if security_at + body > MAX_FRAME {
        return Header::Bad(Reject::Oversize);
    }
    match prefix.get(security_at) {
        None => Header::NeedMore,
        Some(&SECURITY_BYTE) => Header::Frame {
            len: security_at + body,
            security_at,
        },
        Some(_) => Header::Bad(Reject::Security),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header for a body of `body` bytes in the given length form.
    fn header(title_len: u8, form: &[u8]) -> Vec<u8> {
        let mut h = vec![START, title_len];
        h.extend_from_slice(b"SAG\x67\x70\x01\xBD\x54");
        h.extend_from_slice(form);
        h.push(SECURITY_BYTE);
        h
    }

    #[test]
    fn each_length_form_decides_at_the_security_byte() {
        for (form, len, at) in [
            (&[0x7F][..], 11 + 0x7F, 11),
            (&[0x81, 0x80][..], 12 + 0x80, 12),
            (&[0x82, 0x02, 0x7A][..], 13 + 0x27A, 13),
            // Not the shortest form, but BER allows it.
            (&[0x82, 0x00, 0x20][..], 13 + 0x20, 13),
        ] {
            let h = header(TITLE_LEN, form);
            for end in 1..h.len() {
                assert_eq!(judge(&h[..end]), Header::NeedMore, "{form:02X?} at {end}");
            }
            let expected = Header::Frame {
                len,
                security_at: at,
            };
            assert_eq!(judge(&h), expected, "{form:02X?}");
        }
    }

    #[test]
    fn bad_headers_say_why() {
        let cases = [
            (header(TITLE_LEN, &[0x80]), Header::Bad(Reject::Length)),
            (header(TITLE_LEN, &[0x10]), Header::Bad(Reject::Length)),
            (
                header(TITLE_LEN, &[0x83, 0, 0, 0x20]),
                Header::Bad(Reject::Oversize),
            ),
            (
                header(TITLE_LEN, &[0x82, 0x1F, 0xF4]),
                Header::Bad(Reject::Oversize),
            ),
            (header(0x09, &[0x20]), Header::Bad(Reject::TitleLength)),
            // Two things wrong: noise, not a damaged frame.
            (header(0x09, &[0x80]), Header::NotAFrame),
        ];
        for (h, expected) in cases {
            assert_eq!(judge(&h), expected, "{h:02X?}");
        }
        let mut h = header(TITLE_LEN, &[0x20]);
        *h.last_mut().unwrap() = 0x20;
        assert_eq!(judge(&h), Header::Bad(Reject::Security));
        // The largest frame allowed is exactly MAX_FRAME bytes.
        let len = (MAX_FRAME - 13) as u16;
        let h = header(TITLE_LEN, &[0x82, (len >> 8) as u8, len as u8]);
        assert!(matches!(judge(&h), Header::Frame { len: MAX_FRAME, .. }));
    }

    #[test]
    fn a_start_without_a_manufacturer_is_noise_at_once() {
        assert_eq!(judge(&[START, TITLE_LEN, b'S', 0x01]), Header::NotAFrame);
        assert_eq!(judge(&[START, 0x41, b'S', b'A', b'7']), Header::NotAFrame);
    }

    #[test]
    fn fields_of_a_frame() {
        let mut bytes = header(TITLE_LEN, &[0x81, 0x14]);
        bytes.extend_from_slice(&[0, 0, 1, 2, 0xAA, 0xBB, 0xCC]);
        bytes.extend_from_slice(&[0xEE; TAG_LEN]);
        let frame = Frame::parse(&bytes).unwrap();
        assert_eq!(frame.frame_counter, 0x0102);
        assert_eq!(frame.system_title.to_string(), "SAG-677001BD54");
        assert_eq!(frame.security(), SECURITY_BYTE);
        assert_eq!(frame.ciphertext(), &[0xAA, 0xBB, 0xCC]);
        assert_eq!(frame.tag(), &[0xEE; TAG_LEN]);
        assert_eq!(&frame.nonce()[..8], b"SAG\x67\x70\x01\xBD\x54");
        assert_eq!(&frame.nonce()[8..], &[0, 0, 1, 2]);
        assert!(Frame::parse(&bytes[..bytes.len() - 1]).is_none());
    }
}
