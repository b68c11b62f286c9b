//! What a telegram says about itself: its header line and DSMR generation.

/// The telegram's first line, e.g. `/ISK5\2M550T-1012`.
pub fn header(telegram: &[u8]) -> String {
    let end = telegram
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(telegram.len());
    String::from_utf8_lossy(&telegram[..end]).into_owned()
}

/// The DSMR generation a telegram declares (`1-3:0.2.8(50)` is 5.0), or
/// what its CRC implies when it declares none.
pub fn generation(telegram: &[u8], crc: bool) -> String {
    let text = String::from_utf8_lossy(telegram);
    let declared = text
        .lines()
        .find_map(|l| l.strip_prefix("1-3:0.2.8("))
        .and_then(|rest| rest.split(')').next())
        .filter(|v| v.len() == 2 && v.bytes().all(|b| b.is_ascii_digit()));
    match declared {
        Some(v) => format!("DSMR {}.{}", &v[..1], &v[1..]),
        None if crc => "DSMR 4/5".into(),
        None => "DSMR 2.2/3.0".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DSMR50: &[u8] = include_bytes!("../../tests/data/dsmr50_iskra_am550_2mbus.txt");
    const DSMR22: &[u8] = include_bytes!("../../tests/data/dsmr22_iskra_mt382-1003.txt");

    #[test]
    fn generations() {
        assert_eq!(generation(DSMR50, true), "DSMR 5.0");
        assert_eq!(generation(DSMR22, false), "DSMR 2.2/3.0");
        assert_eq!(generation(b"/X\r\n\r\n!1234\r\n", true), "DSMR 4/5");
        assert_eq!(header(DSMR50), "/ISK5\\2M550T-1012");
    }
}
