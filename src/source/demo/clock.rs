//! Dutch local time, worked out by hand (no time-zone database): CET
//! (UTC+1), and CEST (UTC+2) from the last Sunday of March 01:00 UTC to the
//! last Sunday of October 01:00 UTC, the EU rule since 1996. A DSMR meter
//! stamps its telegrams in this time, with W (winter) or S (summer) after
//! it, which is what tells the two 02:00-03:00 hours of October apart.

pub use crate::calendar::{DAY, civil_from_days, days_from_civil, weekday};

/// The day (since 1970-01-01) of the last Sunday of `month` (March or
/// October: both have 31 days).
fn last_sunday(year: i64, month: u32) -> i64 {
    let last = days_from_civil(year, month, 31);
    last - i64::from((weekday(last) + 1) % 7)
}

/// Whether Dutch clocks are on summer time at Unix time `unix`.
pub fn summer_time(unix: i64) -> bool {
    let (year, _, _) = civil_from_days(unix.div_euclid(DAY));
    let start = last_sunday(year, 3) * DAY + 3600;
    let end = last_sunday(year, 10) * DAY + 3600;
    (start..end).contains(&unix)
}

/// Dutch local time at a Unix time, to the second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Local {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// CEST rather than CET.
    pub summer: bool,
}

impl Local {
    pub fn at(unix: i64) -> Local {
        let summer = summer_time(unix);
        let local = unix + if summer { 7200 } else { 3600 };
        let (year, month, day) = civil_from_days(local.div_euclid(DAY));
        let secs = local.rem_euclid(DAY) as u32;
        Local {
            year,
            month,
            day,
            hour: secs / 3600,
            minute: secs / 60 % 60,
            second: secs % 60,
            summer,
        }
    }

    /// As a DSMR meter writes it: YYMMDDhhmmssX, X = W (CET) or S (CEST).
    pub fn dsmr(&self) -> String {
        format!(
            "{:02}{:02}{:02}{:02}{:02}{:02}{}",
            self.year.rem_euclid(100),
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            if self.summer { 'S' } else { 'W' }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i64, mo: u32, d: u32, h: i64, mi: i64, s: i64) -> i64 {
        days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60 + s
    }

    #[test]
    fn spring_forward_at_one_utc_on_the_last_sunday_of_march() {
        // 2025-03-30 and 2026-03-29 are the last Sundays of March.
        let at = |t| Local::at(t).dsmr();
        assert_eq!(at(utc(2025, 3, 30, 0, 59, 59)), "250330015959W");
        assert_eq!(at(utc(2025, 3, 30, 1, 0, 0)), "250330030000S");
        assert_eq!(at(utc(2026, 3, 29, 0, 59, 59)), "260329015959W");
        assert_eq!(at(utc(2026, 3, 29, 1, 0, 0)), "260329030000S");
        // A week earlier is still winter time.
        assert!(!summer_time(utc(2026, 3, 22, 12, 0, 0)));
    }

    #[test]
    fn fall_back_repeats_two_to_three_once_as_s_then_as_w() {
        // 2025-10-26 and 2026-10-25 are the last Sundays of October.
        let at = |t| Local::at(t).dsmr();
        assert_eq!(at(utc(2025, 10, 26, 0, 0, 0)), "251026020000S");
        assert_eq!(at(utc(2025, 10, 26, 0, 59, 59)), "251026025959S");
        assert_eq!(at(utc(2025, 10, 26, 1, 0, 0)), "251026020000W");
        assert_eq!(at(utc(2026, 10, 25, 0, 59, 59)), "261025025959S");
        assert_eq!(at(utc(2026, 10, 25, 1, 0, 0)), "261025020000W");
        assert!(summer_time(utc(2026, 10, 18, 12, 0, 0)));
    }

    #[test]
    fn midnight_and_new_year_in_local_time() {
        let at = |t| Local::at(t).dsmr();
        assert_eq!(at(utc(2025, 12, 31, 23, 0, 0)), "260101000000W");
        assert_eq!(at(utc(2026, 6, 30, 22, 0, 0)), "260701000000S");
        assert_eq!(at(utc(2026, 1, 15, 12, 0, 0)), "260115130000W");
    }
}
