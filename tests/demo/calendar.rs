//! Dates and the time stamps a Dutch meter shows, counted here: the tests
//! must not share the meter's own calendar code.

/// Days before each month in a common year.
const BEFORE: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

fn year_days(y: i64) -> i64 {
    365 + i64::from((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)
}

/// Unix time of a UTC date and time.
pub(crate) fn utc(y: i64, mo: usize, d: i64, h: i64, mi: i64) -> i64 {
    let leap_day = i64::from(mo > 2 && year_days(y) == 366);
    let days = (1970..y).map(year_days).sum::<i64>() + BEFORE[mo - 1] + leap_day + d - 1;
    days * 86_400 + h * 3600 + mi * 60
}

/// What the meter must stamp at Unix time `unix`, from the DST dates of
/// 2025 and 2026 written out by hand.
pub(crate) fn expected_stamp(unix: i64) -> String {
    let summer = [
        (utc(2025, 3, 30, 1, 0), utc(2025, 10, 26, 1, 0)),
        (utc(2026, 3, 29, 1, 0), utc(2026, 10, 25, 1, 0)),
    ]
    .iter()
    .any(|(from, to)| (*from..*to).contains(&unix));
    let local = unix + if summer { 7200 } else { 3600 };
    let (mut days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    let mut year = 1970;
    while days >= year_days(year) {
        days -= year_days(year);
        year += 1;
    }
    let leap = year_days(year) - 365;
    let before = |m: usize| BEFORE[m] + if m >= 2 { leap } else { 0 };
    let month = (0..12).rfind(|&m| before(m) <= days).unwrap();
    let (h, mi, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let day = days - before(month) + 1;
    let x = if summer { 'S' } else { 'W' };
    format!(
        "{:02}{:02}{day:02}{h:02}{mi:02}{s:02}{x}",
        year % 100,
        month + 1
    )
}
