//! The household behind the demo meter: a family with solar panels and gas
//! heating, as a pure function of the time.
//!
//! Every 5 minutes (a knot) the house has a load and the panels a yield,
//! both drawn from a daily profile, the season, the weather of the day and
//! a deterministic pseudo-random number seeded by the time; between knots
//! the power runs linearly. The registers are the exact integral of that
//! power since 2024-01-01, so they only grow, agree with the power shown,
//! and a restarted p1mux carries on the same graphs. The model runs on
//! CET days (24 hours each, all year); the family's habits and the tariff
//! follow Dutch local time.

use super::clock::{DAY, civil_from_days, days_from_civil, summer_time, weekday};

/// Seconds between knots: the gas meter's reading interval too.
pub const KNOT: i64 = 300;
/// Knots in a (CET) day.
const KNOTS: usize = (DAY / KNOT) as usize;
/// The first day of the model, where the registers stand at [`Registers::START`].
const FIRST_DAY: i64 = days_from_civil(2024, 1, 1);
/// From this day on the registers stop: a clock set centuries ahead
/// must not keep p1mux summing at start-up.
const LAST_DAY: i64 = FIRST_DAY + 100 * 366;

/// What the meter's registers hold. Energy in joules, per tariff (index 0
/// is DSMR tariff 1, low; 1 is tariff 2, normal); gas in litres.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Registers {
    pub import: [f64; 2],
    pub export: [f64; 2],
    pub gas: u64,
}

impl Registers {
    /// A meter that has been on the wall for a few years.
    const START: Registers = Registers {
        import: [5_210.0 * 3.6e6, 4_876.0 * 3.6e6],
        export: [612.0 * 3.6e6, 1_488.0 * 3.6e6],
        gas: 3_651_000,
    };
}

/// The house at one second.
#[derive(Clone, Copy, Debug)]
pub struct Moment {
    /// Household consumption, watts.
    pub load: f64,
    /// Solar yield, watts.
    pub solar: f64,
    pub registers: Registers,
    /// The last 5-minute mark: the gas reading's time stamp (Unix time).
    pub gas_at: i64,
    /// The tariff in force: 1 (low) or 2 (normal).
    pub tariff: u8,
}

/// One CET day of the model: its knots and the registers at each.
pub struct Day {
    index: i64,
    load: [f64; KNOTS + 1],
    solar: [f64; KNOTS + 1],
    /// Whether the span from each knot to the next is tariff 2.
    normal: [bool; KNOTS],
    /// The registers at each knot; the last is the next day's start.
    at: [Registers; KNOTS + 1],
}

impl Day {
    /// The day holding Unix time `unix`, with the registers summed since
    /// the first day.
    pub fn containing(unix: i64) -> Day {
        let index = cet_day(unix);
        let mut start = Registers::START;
        for day in FIRST_DAY..index.min(LAST_DAY) {
            start = Day::new(day, start).at[KNOTS];
        }
        Day::new(index, start)
    }

    /// The day after this one.
    pub fn next(&self) -> Day {
        Day::new(self.index + 1, self.at[KNOTS])
    }

    pub fn index(&self) -> i64 {
        self.index
    }

    fn new(index: i64, start: Registers) -> Day {
        let today = Weather::of(index);
        let tomorrow = Weather::of(index + 1);
        let mut day = Day {
            index,
            load: [0.0; KNOTS + 1],
            solar: [0.0; KNOTS + 1],
            normal: [false; KNOTS],
            at: [start; KNOTS + 1],
        };
        for k in 0..KNOTS {
            (day.load[k], day.solar[k]) = today.knot(k);
        }
        (day.load[KNOTS], day.solar[KNOTS]) = tomorrow.knot(0);
        let frozen = !(FIRST_DAY..LAST_DAY).contains(&index);
        for k in 0..KNOTS {
            day.normal[k] = today.normal_tariff(k);
            let mut next = day.at[k];
            if !frozen {
                let (import, export) = day.energy(k, KNOT as f64);
                let t = usize::from(day.normal[k]);
                next.import[t] += import;
                next.export[t] += export;
                next.gas += today.gas(k);
            }
            day.at[k + 1] = next;
        }
        day
    }

    /// Energy imported and exported from knot `k` over the first `secs`
    /// seconds of its span, joules.
    fn energy(&self, k: usize, secs: f64) -> (f64, f64) {
        let (a, b) = (
            self.load[k] - self.solar[k],
            self.load[k + 1] - self.solar[k + 1],
        );
        (positive_area(a, b, secs), positive_area(-a, -b, secs))
    }

    /// The house at `unix`, which must fall in this day.
    pub fn moment(&self, unix: i64) -> Moment {
        let into = unix - self.index * DAY + 3600;
        debug_assert!((0..DAY).contains(&into));
        let k = (into / KNOT) as usize;
        let secs = (into % KNOT) as f64;
        let f = secs / KNOT as f64;
        let mut registers = self.at[k];
        if (FIRST_DAY..LAST_DAY).contains(&self.index) {
            let (import, export) = self.energy(k, secs);
            let t = usize::from(self.normal[k]);
            registers.import[t] += import;
            registers.export[t] += export;
        }
        Moment {
            load: self.load[k] + (self.load[k + 1] - self.load[k]) * f,
            solar: self.solar[k] + (self.solar[k + 1] - self.solar[k]) * f,
            registers,
            gas_at: unix - into % KNOT,
            tariff: if self.normal[k] { 2 } else { 1 },
        }
    }
}

/// The CET day holding Unix time `unix`, counted from 1970-01-01.
pub fn cet_day(unix: i64) -> i64 {
    (unix + 3600).div_euclid(DAY)
}

/// The integral over [0, secs] of a power running linearly from `a` at 0
/// to `b` at [`KNOT`], counting only where it is positive.
fn positive_area(a: f64, b: f64, secs: f64) -> f64 {
    let end = a + (b - a) * secs / KNOT as f64;
    match (a > 0.0, end > 0.0) {
        (true, true) => (a + end) / 2.0 * secs,
        (false, false) => 0.0,
        // Crosses zero at a / (a - end) of the way.
        (true, false) => a * a / (a - end) * secs / 2.0,
        (false, true) => end * end / (end - a) * secs / 2.0,
    }
}

/// What sets a day apart: the calendar, the season and the weather.
struct Weather {
    index: i64,
    /// Dutch clocks are an hour ahead of CET today.
    summer: bool,
    weekend: bool,
    /// 1 in mid-January, 0 in mid-July.
    winter: f64,
    /// 1 at midsummer, 0 at midwinter.
    sun: f64,
    /// How busy the family is, about 1.
    busy: f64,
    /// 0.25 overcast to 1 clear.
    clear: f64,
    /// How cold for the season, about 1.
    cold: f64,
}

/// Household load by local hour, watts: weekdays, then weekends.
const PROFILE: [[f64; 24]; 2] = [
    [
        180., 165., 160., 155., 155., 160., 230., 520., 480., 260., 200., 210., 260., 220., 200.,
        230., 330., 650., 980., 850., 640., 520., 380., 230.,
    ],
    [
        200., 175., 165., 160., 155., 155., 165., 210., 380., 560., 470., 420., 520., 400., 330.,
        340., 420., 700., 950., 820., 620., 520., 420., 270.,
    ],
];

/// cos(2π·turns), within 1e-6. Written out rather than f64::cos, which is
/// the one thing in p1mux that would link libm: on a Raspberry Pi that is
/// some 300 KiB more resident memory for a demo's seasons.
pub fn cos_turns(turns: f64) -> f64 {
    // Into [-1/2, 1/2] turn, then [0, 1/4] by symmetry: cos is even, and
    // cos(π - x) = -cos(x).
    let t = (turns - (turns as i64) as f64).abs();
    let t = if t > 0.5 { 1.0 - t } else { t };
    let (t, sign) = if t > 0.25 { (0.5 - t, -1.0) } else { (t, 1.0) };
    let x = std::f64::consts::TAU * t;
    let x2 = x * x;
    // Taylor series to x^12: the error at x = π/2 is below 1e-9.
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..=6 {
        term *= -x2 / f64::from((2 * k - 1) * (2 * k));
        sum += term;
    }
    sign * sum
}

impl Weather {
    fn of(index: i64) -> Weather {
        let (year, _, _) = civil_from_days(index);
        let day_of_year = (index - days_from_civil(year, 1, 1)) as f64;
        let angle = |peak: f64| cos_turns((day_of_year - peak) / 365.25);
        Weather {
            index,
            summer: summer_time(index * DAY + DAY / 2),
            weekend: weekday(index) >= 5,
            winter: (1.0 + angle(15.0)) / 2.0,
            sun: (1.0 + angle(172.0)) / 2.0,
            busy: 0.85 + 0.3 * unit(index, 0, 1),
            clear: 0.25 + 0.75 * unit(index, 0, 2),
            cold: 0.8 + 0.4 * unit(index, 0, 3),
        }
    }

    /// Local time at knot `k`, hours (24 and past: after local midnight).
    fn local_hour(&self, k: usize) -> f64 {
        k as f64 / 12.0 + f64::from(u8::from(self.summer))
    }

    /// Load and solar yield at knot `k`, watts.
    fn knot(&self, k: usize) -> (f64, f64) {
        let hour = self.local_hour(k) % 24.0;
        let profile = &PROFILE[usize::from(self.weekend)];
        let (h, frac) = (hour as usize, hour.fract());
        let usual = profile[h] + (profile[(h + 1) % 24] - profile[h]) * frac;
        let season = 0.85 + 0.3 * self.winter;
        let mut load = usual * season * self.busy * (0.85 + 0.3 * unit(self.index, k, 4));
        // The kettle, the oven, the washing machine.
        if (7.0..23.0).contains(&hour) && unit(self.index, k, 5) < 0.03 {
            load += 1000.0 + 1200.0 * unit(self.index, k, 6);
        }
        // A 3 kWp roof: solar noon at about 12:40 CET in the Netherlands.
        let half_day = 3.8 + 3.6 * self.sun;
        let x = (k as f64 / 12.0 - 12.7) / half_day;
        let mut solar = 0.0;
        if x.abs() < 1.0 {
            let clouds = (self.clear * (0.7 + 0.6 * unit(self.index, k, 7))).min(1.0);
            solar = 2700.0 * (0.25 + 0.75 * self.sun) * (1.0 - x * x).powi(2) * clouds;
        }
        (load, solar)
    }

    /// Whether the span from knot `k` is tariff 2 (normal): 07:00 to 23:00
    /// local time on weekdays. Nights and weekends are tariff 1 (low).
    fn normal_tariff(&self, k: usize) -> bool {
        !self.weekend && (7.0..23.0).contains(&self.local_hour(k))
    }

    /// Gas burnt in the 5 minutes from knot `k`, litres: heating when it
    /// is cold (the thermostat lower at night), showers, cooking.
    fn gas(&self, k: usize) -> u64 {
        let hour = self.local_hour(k) % 24.0;
        let thermostat = match hour {
            h if !(6.0..23.0).contains(&h) => 0.35,
            h if h < 8.0 => 1.6,
            h if h < 17.0 && !self.weekend => 0.8,
            _ => 1.0,
        };
        let heating_season = ((self.winter * 2.0 - 1.0 + 0.25) / 1.25).max(0.0);
        let mut litres = 28.0 * heating_season * self.cold * thermostat;
        litres *= 0.5 + unit(self.index, k, 8);
        let shower_at = if self.weekend { 9.0 } else { 7.0 };
        if (shower_at..shower_at + 0.5).contains(&hour) && unit(self.index, k, 9) < 0.8 {
            litres += 60.0;
        }
        if (17.5..18.25).contains(&hour) {
            litres += 5.0;
        }
        litres as u64
    }
}

/// A deterministic pseudo-random number in [0, 1) for (day, knot, use):
/// the same every run, so a restart shows the same house.
pub fn unit(day: i64, knot: usize, stream: u64) -> f64 {
    let seed = (day as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((knot as u64) << 8 | stream);
    (splitmix(seed) >> 11) as f64 / (1u64 << 53) as f64
}

/// SplitMix64's finaliser: a cheap, well-mixed 64-bit hash.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cos_turns_is_cos() {
        for i in -2000..=2000 {
            let turns = f64::from(i) / 397.0;
            let want = (std::f64::consts::TAU * turns).cos();
            assert!((cos_turns(turns) - want).abs() < 1e-6, "{turns}");
        }
    }

    #[test]
    fn positive_area_of_a_power_crossing_zero() {
        // 100 W falling to -100 W over a knot: positive for its first half.
        assert_eq!(positive_area(100.0, -100.0, 75.0), 5625.0);
        assert_eq!(positive_area(100.0, -100.0, 300.0), 7500.0);
        assert_eq!(positive_area(-100.0, 100.0, 150.0), 0.0);
        assert_eq!(positive_area(-100.0, 100.0, 300.0), 7500.0);
        assert_eq!(positive_area(50.0, 150.0, 300.0), 30_000.0);
    }

    #[test]
    fn a_day_ends_where_the_next_begins() {
        let day = Day::containing(1_796_212_800);
        let next = day.next();
        assert_eq!(day.at[KNOTS], next.at[0]);
        assert_eq!(
            (day.load[KNOTS], day.solar[KNOTS]),
            (next.load[0], next.solar[0])
        );
        // Summed from the first day or stepped into: the same registers.
        assert_eq!(Day::containing(next.index * DAY).at[0], next.at[0]);
    }
}
