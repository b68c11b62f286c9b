//! Building encrypted frames the way a meter does, with aes-gcm directly
//! (none of p1mux's code), and running streams through p1mux. Also used,
//! by `#[path]`, by the tests of the running gateway (encrypted_serve,
//! domoticz, dsmr_parser_encrypted).

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::aes::Aes128;
use aes_gcm::aes::cipher::consts::U12;
use aes_gcm::{AesGcm, Nonce};
use crc::{CRC_16_ARC, Crc};
use p1mux::encrypted::{Authentication, Decryptor, Key, KeyNews, Piece, Reject, Splitter};
use p1mux::framer::{self, Event, Framer, Parity};

pub const KEY_HEX: &str = "0F1E2D3C4B5A69788796A5B4C3D2E1F0";
pub const KEY: [u8; 16] = [
    0x0F, 0x1E, 0x2D, 0x3C, 0x4B, 0x5A, 0x69, 0x78, 0x87, 0x96, 0xA5, 0xB4, 0xC3, 0xD2, 0xE1, 0xF0,
];
pub const OTHER_KEY: [u8; 16] = [0x42; 16];
/// The Smarty authentication key, written out here on its own.
pub const SMARTY_AK: [u8; 16] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF,
];
/// "SAG" and 5 bytes of serial, as a Sagemcom T210-D has.
pub const TITLE: [u8; 8] = *b"SAG\x19\x05\x00\x42\x17";

pub const SAMPLES: [&[u8]; 2] = [
    include_bytes!("../data/dsmr50_iskra_am550_2mbus.txt"),
    include_bytes!("../data/dsmr50_sagemcom_cx2000_pfl10.txt"),
];
pub const CAPTURE: &[u8] = include_bytes!("../data/capture_iskra_am550_566.txt");

static CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_ARC);

/// The three forms of the BER length.
#[derive(Clone, Copy, Debug)]
pub enum Form {
    /// One byte below 0x80.
    Short,
    /// 0x81 and one byte.
    Long1,
    /// 0x82 and two bytes, big endian (what Smarty meters send).
    Long2,
}

/// AES-128-GCM with a 12-byte tag: ciphertext followed by the tag.
pub fn seal(key: &[u8; 16], nonce: &[u8; 12], aad: &[u8], plain: &[u8]) -> Vec<u8> {
    let cipher = AesGcm::<Aes128, U12, U12>::new(&(*key).into());
    let mut out = plain.to_vec();
    let tag = cipher
        .encrypt_inout_detached(&Nonce::<U12>::from(*nonce), aad, out.as_mut_slice().into())
        .unwrap();
    out.extend_from_slice(&tag);
    out
}

/// System title then frame counter, big endian.
pub fn nonce(title: &[u8; 8], counter: u32) -> [u8; 12] {
    let mut n = [0; 12];
    n[..8].copy_from_slice(title);
    n[8..].copy_from_slice(&counter.to_be_bytes());
    n
}

/// Security byte then authentication key.
pub fn aad(security: u8, ak: &[u8; 16]) -> Vec<u8> {
    let mut a = vec![security];
    a.extend_from_slice(ak);
    a
}

/// The wire layout: 0xDB 0x08, title, BER length, 0x30, counter, sealed.
pub fn lay_out(title: &[u8; 8], form: Form, counter: u32, sealed: &[u8]) -> Vec<u8> {
    let body = 1 + 4 + sealed.len();
    let mut f = vec![0xDB, 0x08];
    f.extend_from_slice(title);
    match form {
        Form::Short => f.push(u8::try_from(body).ok().filter(|&b| b < 0x80).unwrap()),
        Form::Long1 => f.extend([0x81, u8::try_from(body).unwrap()]),
        Form::Long2 => {
            f.push(0x82);
            f.extend_from_slice(&u16::try_from(body).unwrap().to_be_bytes());
        }
    }
    f.push(0x30);
    f.extend_from_slice(&counter.to_be_bytes());
    f.extend_from_slice(sealed);
    f
}

/// A frame as a Smarty sends it: the test key, the Smarty AK, [`TITLE`].
pub fn frame(form: Form, counter: u32, plain: &[u8]) -> Vec<u8> {
    frame_keyed(&KEY, form, counter, plain)
}

pub fn frame_keyed(key: &[u8; 16], form: Form, counter: u32, plain: &[u8]) -> Vec<u8> {
    let sealed = seal(key, &nonce(&TITLE, counter), &aad(0x30, &SMARTY_AK), plain);
    lay_out(&TITLE, form, counter, &sealed)
}

/// A DSMR 5 telegram: `lines` between a header and a '!' line with CRC.
pub fn telegram(lines: &[&str]) -> Vec<u8> {
    let mut t = b"/Lux5\\253663629_D\r\n\r\n".to_vec();
    for line in lines {
        t.extend_from_slice(line.as_bytes());
        t.extend_from_slice(b"\r\n");
    }
    t.push(b'!');
    let crc = CRC16.checksum(&t);
    t.extend_from_slice(format!("{crc:04X}\r\n").as_bytes());
    t
}

/// The plaintext of a Luxembourg Smarty, as its frames carry it.
pub const LUX: &[u8] = include_bytes!("../data/luxembourg_smarty_plaintext.txt");

/// [`LUX`] with its 1.8.0 reading set from `n` (the CRC recomputed): a
/// telegram that differs from every other `n`, of the same length.
pub fn lux(n: u32) -> Vec<u8> {
    let text = std::str::from_utf8(LUX).unwrap();
    let from = text.find("1-0:1.8.0(").unwrap() + 10;
    let mut t = text.to_string();
    t.replace_range(from..from + 6, &format!("{:06}", n % 1_000_000));
    let bang = t.rfind('!').unwrap();
    let crc = CRC16.checksum(&t.as_bytes()[..=bang]);
    t.replace_range(bang + 1..bang + 5, &format!("{crc:04X}"));
    t.into_bytes()
}

/// The frame a Smarty sends with frame counter `n`: [`lux`]`(n)` under
/// the test key.
pub fn lux_frame(n: u32) -> Vec<u8> {
    frame(Form::Long2, n, &lux(n))
}

/// Small enough for the short length form (plaintext of at most 110).
pub fn short_telegram(n: u32) -> Vec<u8> {
    let t = telegram(&[&format!("1-0:1.8.0({n:06}.695*kWh)")]);
    assert!(t.len() <= 110, "{}", t.len());
    t
}

/// Between 111 and 238 bytes: the 0x81 form.
pub fn medium_telegram(n: u32) -> Vec<u8> {
    let t = telegram(&[
        "0-0:1.0.0(180130102122W)",
        "0-0:42.0.0(53414731303330373030313134303034)",
        &format!("1-0:1.8.0({n:06}.695*kWh)"),
        "1-0:2.8.0(000000.025*kWh)",
        "1-0:1.7.0(00.000*kW)",
    ]);
    assert!((111..=238).contains(&t.len()), "{}", t.len());
    t
}

/// Pseudo-random bytes with many 0xDB in them, but no 0x08 (so never a
/// frame header) nor a '/' (that starts a telegram). Ends in "....", so
/// that a 0xDB near the end is decided before the input ends.
pub fn noise(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let b = match (x >> 16) as u8 {
            b if b % 7 == 0 => 0xDB,
            b'/' | 0x08 => b'.',
            b => b,
        };
        out.push(b);
    }
    out.truncate(len.saturating_sub(4));
    out.resize(len, b'.');
    out
}

/// Everything that came out of a stream.
#[derive(Debug, Default)]
pub struct Out {
    /// Text pieces, joined.
    pub text: Vec<u8>,
    /// Frames, as the splitter gave them.
    pub frames: Vec<Vec<u8>>,
    /// Splitter and decryptor rejects, in order.
    pub rejects: Vec<Reject>,
    /// Decrypted telegrams that the plaintext framer passed.
    pub telegrams: Vec<Vec<u8>>,
    /// The plaintext framer's rejects.
    pub plain_rejects: Vec<framer::Reject>,
    /// Telegrams the text framer found on the text side.
    pub text_telegrams: usize,
    /// The decryptor's news, in order.
    pub news: Vec<KeyNews>,
}

/// Runs `pieces` through a splitter and, given a decryptor, decrypts each
/// frame and frames the plaintext, as the gateway will.
pub fn run(pieces: &[&[u8]], mut decryptor: Option<&mut Decryptor>) -> Out {
    let mut out = Out::default();
    let mut splitter = Splitter::new();
    let mut text = Framer::new(Parity::None);
    let mut plain = Framer::new(Parity::None);
    for piece in pieces {
        splitter.push(piece, |p| match p {
            Piece::Text(run) => {
                out.text.extend_from_slice(run);
                text.push(run, |e| {
                    out.text_telegrams += usize::from(matches!(e, Event::Telegram(_)))
                });
            }
            Piece::Frame(frame) => {
                out.frames.push(frame.bytes.to_vec());
                let Some(decryptor) = decryptor.as_deref_mut() else {
                    return;
                };
                match decryptor.decrypt(&frame) {
                    Ok(plaintext) => plain.push(plaintext, |e| match e {
                        Event::Telegram(t) => out.telegrams.push(t.bytes.to_vec()),
                        Event::Rejected { reason, .. } => out.plain_rejects.push(reason),
                    }),
                    Err(reason) => out.rejects.push(reason),
                }
                out.news.extend(decryptor.news());
            }
            Piece::Rejected(reason) => out.rejects.push(reason),
        });
    }
    out
}

/// A decryptor with the test key and the Smarty AK.
pub fn decryptor() -> Decryptor {
    Decryptor::new(&Key::from_bytes(KEY), Authentication::Default)
}

/// `run` on `stream` whole, in both modes: (pass-through, decrypting).
pub fn both(stream: &[u8]) -> (Out, Out) {
    (run(&[stream], None), run(&[stream], Some(&mut decryptor())))
}

pub fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}
