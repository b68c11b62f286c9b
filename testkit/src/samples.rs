//! Real telegrams, and the ways tests and benches change them: parity in
//! bit 7, a broken CRC, a fresh CRC after an edit.

use crc::{CRC_16_ARC, Crc};

/// One telegram from each kind of meter in tests/data, oldest DSMR first:
/// 2.2 and 3.0 (7E1, no CRC), 4.0, 4.2 (two makes), 5.0 (two makes).
pub const NAMED_SAMPLES: [(&str, &[u8]); 7] = [
    (
        "dsmr22",
        include_bytes!("../../tests/data/dsmr22_iskra_mt382-1003.txt"),
    ),
    (
        "dsmr30",
        include_bytes!("../../tests/data/dsmr30_iskra_mt382-1000_spec_textmsg.txt"),
    ),
    (
        "dsmr40",
        include_bytes!("../../tests/data/dsmr40_iskra_spec_textmsg.txt"),
    ),
    (
        "dsmr42 kaifa",
        include_bytes!("../../tests/data/dsmr42_kaifa_ma105.txt"),
    ),
    (
        "dsmr42 l+g",
        include_bytes!("../../tests/data/dsmr42_landisgyr_e350.txt"),
    ),
    (
        "dsmr50 iskra",
        include_bytes!("../../tests/data/dsmr50_iskra_am550_2mbus.txt"),
    ),
    (
        "dsmr50 sagemcom",
        include_bytes!("../../tests/data/dsmr50_sagemcom_cx2000_pfl10.txt"),
    ),
];

/// [`NAMED_SAMPLES`] without the names, same order.
pub const SAMPLES: [&[u8]; 7] = {
    let mut all: [&[u8]; 7] = [&[]; 7];
    let mut i = 0;
    while i < all.len() {
        all[i] = NAMED_SAMPLES[i].1;
        i += 1;
    }
    all
};

/// 566 telegrams as one Iskra AM550 sent them, noise between them included.
pub const CAPTURE: &[u8] = include_bytes!("../../tests/data/capture_iskra_am550_566.txt");

/// The even-parity bit a 7E1 meter sends after the 7 data bits of `byte`.
pub fn parity_bit(byte: u8) -> bool {
    (byte & 0x7F).count_ones() % 2 == 1
}

/// What a UART set to 8N1 delivers for a meter sending 7E1: the even parity
/// bit lands in bit 7.
pub fn with_parity_bit(data: &[u8]) -> Vec<u8> {
    data.iter()
        .map(|&b| b | u8::from(parity_bit(b)) << 7)
        .collect()
}

/// `telegram` with one data byte changed, so its CRC no longer matches.
pub fn corrupt(telegram: &[u8]) -> Vec<u8> {
    let mut bad = telegram.to_vec();
    let pos = bad.len() / 2;
    bad[pos] = if bad[pos] == b'1' { b'2' } else { b'1' };
    bad
}

/// CRC-16/ARC, which DSMR 4+ computes from '/' up to and including '!'.
pub fn crc16(bytes: &[u8]) -> u16 {
    const ARC: Crc<u16> = Crc::<u16>::new(&CRC_16_ARC);
    ARC.checksum(bytes)
}

/// `body` (from '/' up to and including '!') with its CRC line appended.
pub fn with_crc(body: &str) -> Vec<u8> {
    assert!(body.ends_with('!'), "a telegram body ends with '!'");
    format!("{body}{:04X}\r\n", crc16(body.as_bytes())).into_bytes()
}

/// A frame with a telegram inside: `/A` and six digits, then a whole
/// telegram body (Holley-style ident), the digits chosen so that the frame
/// and the telegram from its second '/' have the same CRC, the one the
/// frame ends with. Both pass their CRC check.
pub fn telegram_with_a_valid_suffix() -> Vec<u8> {
    let tail = "/ISK5\\2M550T-1012\r\n\r\n1-0:1.8.1(000123.456*kWh)\r\n!";
    let want = crc16(tail.as_bytes());
    let longer = (0..)
        .map(|n| format!("/A{n:06}{tail}"))
        .find(|t| crc16(t.as_bytes()) == want)
        .unwrap();
    with_crc(&longer)
}

/// Where the CRC of `telegram` starts: just after its last '!'.
fn crc_at(telegram: &[u8]) -> Option<usize> {
    telegram.iter().rposition(|&b| b == b'!').map(|i| i + 1)
}

/// Whether `telegram` ends in four hex digits that match its CRC.
pub fn crc_ok(telegram: &[u8]) -> bool {
    crc_at(telegram).is_some_and(|at| {
        let sent = telegram[at..]
            .get(..4)
            .and_then(|d| std::str::from_utf8(d).ok());
        sent.and_then(|d| u16::from_str_radix(d, 16).ok()) == Some(crc16(&telegram[..at]))
    })
}

/// Rewrites the CRC of `telegram` after an edit of its body.
///
/// # Panics
/// If `telegram` has no '!' followed by four CRC digits (DSMR 2.2/3.0).
pub fn set_crc(telegram: &mut [u8]) {
    let at = crc_at(telegram).expect("a telegram with a '!' line");
    let digits = format!("{:04X}", crc16(&telegram[..at]));
    telegram
        .get_mut(at..at + 4)
        .expect("four CRC digits after '!'")
        .copy_from_slice(digits.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_is_arc() {
        assert_eq!(crc16(b"123456789"), 0xBB3D);
    }

    #[test]
    fn samples_from_dsmr4_on_carry_a_valid_crc() {
        for (name, sample) in NAMED_SAMPLES {
            let has_crc = !name.starts_with("dsmr22") && !name.starts_with("dsmr30");
            assert_eq!(crc_ok(sample), has_crc, "{name}");
            assert!(
                sample.starts_with(b"/") && sample.ends_with(b"\r\n"),
                "{name}"
            );
        }
        assert_eq!(
            SAMPLES.map(<[u8]>::len),
            NAMED_SAMPLES.map(|(_, s)| s.len())
        );
    }

    #[test]
    fn corrupt_breaks_the_crc_and_set_crc_mends_it() {
        let good = SAMPLES[6];
        let mut bad = corrupt(good);
        assert_eq!(bad.len(), good.len());
        assert!(!crc_ok(&bad));
        set_crc(&mut bad);
        assert!(crc_ok(&bad));
        assert_ne!(bad, good);
    }

    #[test]
    fn with_crc_makes_a_valid_telegram() {
        let t = with_crc("/XYZ5\r\n\r\n1-0:1.8.1(000001.000*kWh)\r\n!");
        assert!(crc_ok(&t));
        assert!(t.ends_with(b"\r\n"));
    }

    #[test]
    fn the_telegram_with_a_valid_suffix_is_two_valid_telegrams() {
        let t = telegram_with_a_valid_suffix();
        let second = t.iter().skip(1).position(|&b| b == b'/').unwrap() + 1;
        assert_eq!(second, 8, "/A and six digits");
        assert!(crc_ok(&t));
        assert!(crc_ok(&t[second..]));
    }

    #[test]
    fn parity_in_bit_7_makes_every_byte_even() {
        let wire = with_parity_bit(SAMPLES[0]);
        assert_eq!(wire[0], 0xAF, "'/' has five bits set");
        assert!(wire.iter().all(|b| b.count_ones() % 2 == 0));
        let masked: Vec<u8> = wire.iter().map(|b| b & 0x7F).collect();
        assert_eq!(masked, SAMPLES[0]);
    }
}
