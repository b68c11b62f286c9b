//! Splitting a telegram into its data lines: `OBIS(field)(field)...`.
//!
//! No rule here can fail: whatever a line holds is kept, split as far as it
//! follows the pattern, the rest verbatim, so nothing a meter sent is lost.

use std::fmt;

/// An OBIS id as DSMR writes it: `A-B:C.D.E`, e.g. `1-0:1.8.1`. In DSMR, B
/// is the M-Bus channel (0 for the meter itself) and, for energy, E the tariff.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Obis {
    pub a: u8,
    pub b: u8,
    pub c: u8,
    pub d: u8,
    pub e: u8,
}

impl Obis {
    pub const fn new(a: u8, b: u8, c: u8, d: u8, e: u8) -> Obis {
        Obis { a, b, c, d, e }
    }

    /// `A-B:C.D.E` exactly (each group 0-255), else None: a garbled id such
    /// as the DSMR 4.0 specification's own `1-0:99:97.0` is not guessed at.
    pub fn parse(text: &str) -> Option<Obis> {
        let (a, rest) = text.split_once('-')?;
        let (b, rest) = rest.split_once(':')?;
        let mut cde = rest.split('.');
        let (c, d, e) = (cde.next()?, cde.next()?, cde.next()?);
        if cde.next().is_some() {
            return None;
        }
        let group = |g: &str| -> Option<u8> {
            if g.is_empty() || g.len() > 3 || !g.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            g.parse().ok()
        };
        Some(Obis::new(
            group(a)?,
            group(b)?,
            group(c)?,
            group(d)?,
            group(e)?,
        ))
    }
}

impl fmt::Display for Obis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Obis { a, b, c, d, e } = self;
        write!(f, "{a}-{b}:{c}.{d}.{e}")
    }
}

/// One data line of a telegram, as sent.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// Everything before the first '(': the OBIS id as the meter wrote it.
    pub id: String,
    /// `id` read as an OBIS id, when it is one.
    pub obis: Option<Obis>,
    /// The text inside each `(...)`, in order. A DSMR 2.2 gas reading, sent
    /// on the next line as `(00610.475)`, is appended here.
    pub fields: Vec<String>,
    /// Whatever followed the last well-formed group (a lost ')', junk).
    pub rest: String,
    /// The line became a typed value or part of the meter's identity.
    /// False for lines this parser does not know: they are still here.
    pub known: bool,
}

/// The telegram's first line, its data lines, and the text after '!'.
pub(crate) struct Split {
    pub header: String,
    pub lines: Vec<Line>,
    pub checksum: String,
}

/// Splits a telegram ('/' through the '!' line) into lines. A line that
/// begins with '(' continues the previous one (DSMR 2.2 and 3.0 gas).
pub(crate) fn split(telegram: &[u8]) -> Split {
    let text = String::from_utf8_lossy(telegram);
    let mut rows = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let header = rows.next().unwrap_or_default().to_string();
    let mut lines: Vec<Line> = Vec::new();
    let mut checksum = String::new();
    for row in rows {
        if let Some(crc) = row.strip_prefix('!') {
            checksum = crc.to_string();
            break;
        }
        if row.is_empty() {
            continue;
        }
        if row.starts_with('(')
            && let Some(last) = lines.last_mut()
            && last.rest.is_empty()
        {
            last.rest = groups(row, &mut last.fields).to_string();
            continue;
        }
        let start = row.find('(').unwrap_or(row.len());
        let id = row[..start].to_string();
        let mut fields = Vec::new();
        let rest = groups(&row[start..], &mut fields).to_string();
        lines.push(Line {
            obis: Obis::parse(&id),
            id,
            fields,
            rest,
            known: false,
        });
    }
    Split {
        header,
        lines,
        checksum,
    }
}

/// Appends each leading `(...)` of `text` to `fields`; returns what is left.
fn groups<'a>(mut text: &'a str, fields: &mut Vec<String>) -> &'a str {
    while let Some(inner) = text.strip_prefix('(') {
        let Some(end) = inner.find(')') else {
            break;
        };
        fields.push(inner[..end].to_string());
        text = &inner[end + 1..];
    }
    text
}

/// A field split into number text and unit: `002130.115*kWh`.
pub(crate) fn value_and_unit(field: &str) -> (&str, Option<&str>) {
    match field.split_once('*') {
        Some((value, unit)) => (value, Some(unit)),
        None => (field, None),
    }
}

/// Hex-encoded ASCII (equipment ids, text messages) decoded, when every
/// byte is printable ASCII; None for anything else, which is then shown as
/// sent rather than as garbage.
pub fn decode_hex_ascii(hex: &str) -> Option<String> {
    if hex.is_empty() || !hex.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<_>>()?;
    if !bytes.iter().all(|b| (0x20..=0x7E).contains(b)) {
        return None;
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obis_ids() {
        assert_eq!(Obis::parse("1-0:1.8.1"), Some(Obis::new(1, 0, 1, 8, 1)));
        assert_eq!(Obis::parse("0-1:24.2.1").unwrap().to_string(), "0-1:24.2.1");
        for bad in [
            "1-0:99:97.0",
            "1-0:1.8",
            "1-0:1.8.1.255",
            "256-0:1.8.1",
            "1-0:1.8.x",
            "",
        ] {
            assert_eq!(Obis::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn lines_fields_and_continuations() {
        let t =
            b"/ISk5\\2MT382-1003\r\n\r\n0-2:24.3.0(211122210000)(00)(60)(1)(0-2:24.2.1)(m3)\r\n\
(13368.864)\r\nodd line\r\n1-0:1.8.1(0001.0*kWh)junk\r\n(9)\r\n!\r\n";
        let s = split(t);
        assert_eq!(s.header, "/ISk5\\2MT382-1003");
        assert_eq!(s.lines.len(), 4);
        assert_eq!(s.lines[0].fields.last().unwrap(), "13368.864");
        assert_eq!(s.lines[0].fields.len(), 7);
        assert_eq!(
            (s.lines[1].id.as_str(), s.lines[1].obis),
            ("odd line", None)
        );
        // A continuation after junk is not glued on: nothing is reordered.
        assert_eq!(s.lines[2].rest, "junk");
        assert_eq!(s.lines[2].fields, ["0001.0*kWh"]);
        assert_eq!(
            (s.lines[3].id.as_str(), &s.lines[3].fields[..]),
            ("", &["9".to_string()][..])
        );
        assert_eq!(s.checksum, "");
    }

    #[test]
    fn hex_ascii() {
        let id = "4530303434303037333832323436303139";
        assert_eq!(decode_hex_ascii(id).as_deref(), Some("E0044007382246019"));
        assert_eq!(
            decode_hex_ascii("3960221976967177"),
            None,
            "0x19 is no text"
        );
        assert_eq!(decode_hex_ascii("ADB31000"), None);
        assert_eq!(decode_hex_ascii("303"), None);
        assert_eq!(decode_hex_ascii(""), None);
    }
}
