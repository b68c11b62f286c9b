//! Who sent a telegram: header, manufacturer, version, equipment id.

use super::line::Obis;

/// Who sent the telegram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meter {
    /// The first line, e.g. `/ISK5\2M550T-1012`.
    pub header: String,
    /// The three letters after '/' (`ISK`, `KFM`, `FLU`...): the
    /// manufacturer flag, when they are letters.
    pub manufacturer: Option<String>,
    /// The rest of the header after `/XXXZ`, e.g. `\2M550T-1012`.
    pub ident: String,
    /// `1-3:0.2.8`, e.g. `50` (DSMR 5.0).
    pub version: Option<String>,
    /// `0-0:96.1.4`, Belgium's version, e.g. `50217` (DSMR 5.0.2, e-MUCS 1.7).
    pub belgian_version: Option<String>,
    pub equipment_id: Option<EquipmentId>,
}

/// The meter's serial number: `0-0:96.1.1` in the Netherlands and Belgium,
/// `0-0:42.0.0` on Luxembourg's Smarty. Swedish and Austrian meters send
/// none. (Belgium's `0-0:96.1.4` is the e-MUCS version, not an id.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EquipmentId {
    pub obis: Obis,
    /// As sent, usually hex ASCII.
    pub raw: String,
    /// `raw` decoded, when it is hex ASCII of printable text.
    pub decoded: Option<String>,
}

/// Manufacturers by the three-letter id in the header (the FLAG id of
/// IEC 62056-21), for people: "ISK" is Iskra to everyone who owns one.
/// Matched without case: Iskra's DSMR 2.2/3.0 meters send "ISk".
const MANUFACTURERS: [(&str, &str); 14] = [
    ("ADN", "Aidon"),
    ("EMH", "EMH metering"),
    ("ELL", "Landis+Gyr"),
    ("ELS", "Elster"),
    ("HLY", "Holley"),
    ("ISK", "Iskra"),
    ("KAM", "Kamstrup"),
    ("KFM", "Kaifa"),
    ("KMP", "Kamstrup"),
    ("LGF", "Landis+Gyr"),
    ("LGZ", "Landis+Gyr"),
    ("SAG", "Sagemcom"),
    // The Landis+Gyr E350 introduces itself as "XMX5LG...".
    ("XMX", "Landis+Gyr"),
    ("ZIV", "ZIV"),
];

impl Meter {
    /// The manufacturer's name ("Iskra" for "ISK"), or the three letters
    /// themselves when they are not a known manufacturer's.
    pub fn manufacturer_name(&self) -> Option<&str> {
        let flag = self.manufacturer.as_deref()?;
        Some(
            MANUFACTURERS
                .iter()
                .find(|(id, _)| id.eq_ignore_ascii_case(flag))
                .map_or(flag, |(_, name)| name),
        )
    }

    /// A Belgian meter (e-MUCS): its tariff 1 is the normal one and 2 the
    /// low one, the opposite of the Netherlands.
    pub fn is_belgian(&self) -> bool {
        self.belgian_version.is_some()
    }

    /// The declared version in words: `DSMR 5.0`, `DSMR 5.0.2, e-MUCS 1.7`.
    pub fn version_text(&self) -> Option<String> {
        let dsmr = self.version.as_deref().map(|v| match v.as_bytes() {
            [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
                format!("DSMR {}.{}", *a as char, *b as char)
            }
            _ => format!("DSMR {v}"),
        });
        let belgian = self.belgian_version.as_deref().map(|v| match v.as_bytes() {
            [a, b, c, d, e] if v.bytes().all(|x| x.is_ascii_digit()) => format!(
                "DSMR {}.{}.{}, e-MUCS {}.{}",
                *a as char, *b as char, *c as char, *d as char, *e as char
            ),
            _ => format!("e-MUCS {v}"),
        });
        match (dsmr, belgian) {
            (Some(d), Some(b)) => Some(format!("{d} ({b})")),
            (d, b) => d.or(b),
        }
    }
}

pub(crate) fn meter(header: String) -> Meter {
    let flag = header
        .get(1..4)
        .filter(|f| header.starts_with('/') && f.bytes().all(|b| b.is_ascii_alphabetic()));
    Meter {
        manufacturer: flag.map(str::to_string),
        ident: header.get(5..).unwrap_or_default().to_string(),
        header,
        version: None,
        belgian_version: None,
        equipment_id: None,
    }
}

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

    #[test]
    fn versions() {
        let mut m = meter("/FLU5\\253769484_A".into());
        assert_eq!(
            (m.manufacturer.as_deref(), m.ident.as_str()),
            (Some("FLU"), "\\253769484_A")
        );
        m.belgian_version = Some("50217".into());
        assert_eq!(m.version_text().as_deref(), Some("DSMR 5.0.2, e-MUCS 1.7"));
        m.version = Some("50".into());
        assert_eq!(
            m.version_text().as_deref(),
            Some("DSMR 5.0 (DSMR 5.0.2, e-MUCS 1.7)")
        );
        assert_eq!(meter("garbage".into()).manufacturer, None);
    }

    #[test]
    fn manufacturers_by_name_or_their_letters() {
        for (header, name) in [
            ("/ISK5\\2M550T-1012", Some("Iskra")),
            ("/ISk5\\2MT382-1003", Some("Iskra")),
            ("/KFM5KAIFA-METER", Some("Kaifa")),
            ("/XMX5LGBBFG1009325446", Some("Landis+Gyr")),
            ("/ADN9 6534", Some("Aidon")),
            ("/Ene5\\SAGEMCOM CX2000-", Some("Ene")),
            ("/FLU5\\253769484_A", Some("FLU")),
            ("/12", None),
        ] {
            assert_eq!(meter(header.into()).manufacturer_name(), name, "{header}");
        }
        assert_eq!(meter("/12".into()).ident, "");
    }
}
