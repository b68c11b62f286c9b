//! DSMR timestamps: `YYMMDDhhmmssX`, X = W (winter, UTC+1) or S (summer,
//! UTC+2). DSMR 2.2 gas readings carry none (`YYMMDDhhmmss` alone).
//!
//! A timestamp that is not a real date (Fluvius sends `632525252525W` for a
//! month without a peak) is kept as raw text and nothing is made of it.

/// Daylight saving as the meter declared it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Season {
    /// `W`: normal time, UTC+01:00.
    Winter,
    /// `S`: summer time, UTC+02:00.
    Summer,
}

/// A valid date and time, in the meter's local time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime {
    /// Four digits: `YY` 00-69 is 20YY, 70-99 is 19YY, so that the
    /// `700101010000W` of an empty M-Bus channel reads as the Unix epoch.
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// None when the meter sent no W/S: then the offset is unknown.
    pub season: Option<Season>,
}

/// A timestamp as sent, and what it means when it is valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timestamp {
    /// Exactly the meter's text, e.g. `200426223325S`.
    pub raw: String,
    /// None when `raw` is not a real date and time.
    pub parsed: Option<DateTime>,
}

impl Timestamp {
    pub fn parse(raw: &str) -> Timestamp {
        Timestamp {
            raw: raw.to_string(),
            parsed: parse(raw),
        }
    }

    /// Minutes east of UTC, when the meter said W or S.
    pub fn offset_minutes(&self) -> Option<i32> {
        match self.parsed?.season? {
            Season::Winter => Some(60),
            Season::Summer => Some(120),
        }
    }

    /// `2020-04-26T22:33:25` (meter-local, no offset), when valid.
    pub fn local(&self) -> Option<String> {
        let t = self.parsed?;
        Some(format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year, t.month, t.day, t.hour, t.minute, t.second
        ))
    }

    /// RFC 3339, `2020-04-26T22:33:25+02:00`: needs a valid time and W/S.
    pub fn rfc3339(&self) -> Option<String> {
        let offset = self.offset_minutes()?;
        Some(format!("{}+{:02}:00", self.local()?, offset / 60))
    }

    /// RFC 3339 when the offset is known, else the local form without one
    /// (ISO 8601 for "local time"): what the JSON state carries.
    pub fn iso8601(&self) -> Option<String> {
        self.rfc3339().or_else(|| self.local())
    }

    /// Seconds since 1970-01-01T00:00:00Z; needs a valid time and W/S.
    pub fn unix(&self) -> Option<i64> {
        let t = self.parsed?;
        let offset = i64::from(self.offset_minutes()?) * 60;
        let days = days_from_civil(i64::from(t.year), t.month, t.day);
        let secs = i64::from(t.hour) * 3600 + i64::from(t.minute) * 60 + i64::from(t.second);
        Some(days * 86_400 + secs - offset)
    }
}

fn parse(raw: &str) -> Option<DateTime> {
    let b = raw.as_bytes();
    let season = match b.get(12) {
        None => None,
        Some(b'W') => Some(Season::Winter),
        Some(b'S') => Some(Season::Summer),
        Some(_) => return None,
    };
    if b.len() > 13 || b.len() < 12 || !b[..12].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let two = |i: usize| (b[i] - b'0') * 10 + (b[i + 1] - b'0');
    let yy = u16::from(two(0));
    let t = DateTime {
        year: if yy >= 70 { 1900 + yy } else { 2000 + yy },
        month: two(2),
        day: two(4),
        hour: two(6),
        minute: two(8),
        second: two(10),
        season,
    };
    let valid = (1..=12).contains(&t.month)
        && (1..=days_in_month(t.year, t.month)).contains(&t.day)
        && t.hour < 24
        && t.minute < 60
        && t.second < 60;
    valid.then_some(t)
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let (m, d) = (i64::from(month), i64::from(day));
    let y = if m <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summer_and_winter() {
        let s = Timestamp::parse("200426223325S");
        assert_eq!(s.rfc3339().as_deref(), Some("2020-04-26T22:33:25+02:00"));
        assert_eq!(s.unix(), Some(1_587_933_205));
        let w = Timestamp::parse("101209113020W");
        assert_eq!(w.rfc3339().as_deref(), Some("2010-12-09T11:30:20+01:00"));
        assert_eq!(w.unix(), Some(1_291_890_620));
    }

    #[test]
    fn the_empty_channel_placeholder_is_the_epoch() {
        assert_eq!(Timestamp::parse("700101010000W").unix(), Some(0));
    }

    #[test]
    fn no_season_means_no_offset() {
        let t = Timestamp::parse("211122210000");
        assert_eq!(t.local().as_deref(), Some("2021-11-22T21:00:00"));
        assert_eq!(t.iso8601().as_deref(), Some("2021-11-22T21:00:00"));
        assert_eq!((t.rfc3339(), t.unix()), (None, None));
    }

    #[test]
    fn malformed_is_kept_raw() {
        for raw in [
            "632525252525W",
            "000000000000W",
            "2004262233S",
            "200426223325X",
            "200230000000W",
            "",
            "20042622332SS",
        ] {
            let t = Timestamp::parse(raw);
            assert_eq!(t.raw, raw);
            assert_eq!(t.parsed, None, "{raw}");
            assert_eq!(t.iso8601(), None);
        }
        assert!(
            Timestamp::parse("240229120000W").parsed.is_some(),
            "leap day"
        );
    }
}
