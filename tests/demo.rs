//! The demo meter as a consumer sees it: every telegram through the framer,
//! its values read back from the text. One meter, the current Dutch time,
//! totals that only grow (across a restart too), gas every 5 minutes, and
//! power a household with solar panels could draw.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use p1mux::framer::{Event, Framer, Parity};
use p1mux::source::demo::{DemoMeter, HEADER};

/// Days before each month in a common year.
const BEFORE: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

fn year_days(y: i64) -> i64 {
    365 + i64::from((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)
}

/// Unix time of a UTC date and time, counted here: the tests must not
/// share the meter's own calendar code.
fn utc(y: i64, mo: usize, d: i64, h: i64, mi: i64) -> i64 {
    let leap_day = i64::from(mo > 2 && year_days(y) == 366);
    let days = (1970..y).map(year_days).sum::<i64>() + BEFORE[mo - 1] + leap_day + d - 1;
    days * 86_400 + h * 3600 + mi * 60
}

/// A meter started at Unix time `unix` (half a second into it), polled
/// at each due time as the gateway would.
struct Run {
    meter: DemoMeter,
    start: Instant,
    /// Seconds since the start, as both clocks agree.
    elapsed: f64,
    unix: i64,
    framer: Framer,
}

impl Run {
    fn start(unix: i64) -> Run {
        let start = Instant::now();
        Run {
            meter: DemoMeter::new(start, wall(unix as f64 + 0.5)),
            start,
            elapsed: 0.0,
            unix,
            framer: Framer::new(Parity::None),
        }
    }

    /// The telegram `secs` seconds after the previous one; checks that it
    /// is due then and is one valid telegram with a matching CRC.
    fn after(&mut self, secs: f64) -> Telegram {
        self.elapsed += secs;
        let now = self.start + Duration::from_secs_f64(self.elapsed);
        let at = wall(self.unix as f64 + 0.5 + self.elapsed);
        let bytes = self.meter.poll(now, at).expect("a telegram is due");
        let mut valid = 0;
        self.framer.push(&bytes, |event| match event {
            Event::Telegram(t) => {
                assert!(t.crc && t.bytes == bytes);
                valid += 1;
            }
            Event::Rejected { reason, .. } => panic!("rejected: {}", reason.name()),
        });
        assert_eq!(valid, 1);
        Telegram::parse(&bytes)
    }
}

fn wall(unix: f64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs_f64(unix)
}

/// A telegram's lines, split at the first parenthesis: (OBIS code, rest).
struct Telegram {
    text: String,
    /// Where each line starts, its '(' and its end, in `text`.
    lines: Vec<(usize, usize, usize)>,
    /// Import T1, T2, export T1, T2 (kWh), gas (m3).
    registers: [f64; 5],
}

impl Telegram {
    fn parse(bytes: &[u8]) -> Telegram {
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let mut lines = Vec::with_capacity(40);
        let mut start = 0;
        for line in text.split_inclusive("\r\n") {
            if let Some(paren) = line.find('(') {
                lines.push((start, start + paren, start + line.len() - 2));
            }
            start += line.len();
        }
        let registers = [0.0; 5];
        let mut t = Telegram {
            text,
            lines,
            registers,
        };
        t.registers = [
            "1-0:1.8.1",
            "1-0:1.8.2",
            "1-0:2.8.1",
            "1-0:2.8.2",
            "0-1:24.2.1",
        ]
        .map(|o| t.num(o));
        t
    }

    /// What follows the code on its line: "(...)".
    fn raw(&self, obis: &str) -> &str {
        let found = self
            .lines
            .iter()
            .find(|(start, paren, _)| &self.text[*start..*paren] == obis);
        let (_, paren, end) = found.unwrap_or_else(|| panic!("no {obis}"));
        &self.text[*paren..*end]
    }

    /// The last parenthesised value of a line, unit stripped.
    fn value(&self, obis: &str) -> &str {
        let raw = self.raw(obis);
        let last = raw.rsplit('(').next().unwrap().trim_end_matches(')');
        last.split('*').next().unwrap()
    }

    fn num(&self, obis: &str) -> f64 {
        self.value(obis).parse().unwrap()
    }

    fn stamp(&self) -> &str {
        self.value("0-0:1.0.0")
    }

    /// The gas reading's own time stamp.
    fn gas_stamp(&self) -> &str {
        let raw = self.raw("0-1:24.2.1");
        &raw[1..raw.find(')').unwrap()]
    }
}

/// What the meter must stamp at Unix time `unix`, from the DST dates of
/// 2025 and 2026 written out by hand.
fn expected_stamp(unix: i64) -> String {
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

/// What a day at one telegram a second showed.
#[derive(Default)]
struct DaySummary {
    /// Energy from integrating the power shown, kWh: in, out.
    integrated: [f64; 2],
    /// Growth of the registers, kWh: in, out.
    counted: [f64; 2],
    max_import: f64,
    /// The least power drawn between 00:00 and 05:00 local: the base load.
    night_min: f64,
    max_export: f64,
    /// Local hours in which power was returned.
    export_hours: Vec<u32>,
    /// Seconds whose power differed from the second before.
    changes: usize,
    gas_growth: f64,
}

/// Follows the meter at 1 s steps for `secs` from `unix`, checking every
/// telegram against its predecessor.
fn follow(unix: i64, secs: i64) -> DaySummary {
    let mut run = Run::start(unix);
    let mut prev = run.after(0.0);
    let mut sum = DaySummary {
        night_min: f64::MAX,
        ..DaySummary::default()
    };
    let first = prev.registers;
    for s in 1..=secs {
        let t = run.after(1.0);
        let now = unix + s;
        assert!(t.text.starts_with(HEADER));
        assert_eq!(t.raw("0-0:96.1.1"), prev.raw("0-0:96.1.1"));
        assert_eq!(t.stamp(), expected_stamp(now), "at {now}");
        let (before, after) = (prev.registers, t.registers);
        for i in 0..5 {
            assert!(after[i] >= before[i], "register {i} went down at {now}");
        }
        // Only the tariff in force counts (the step ending now belongs
        // to the previous telegram's tariff).
        let tariff = prev.value("0-0:96.14.0");
        let idle = if tariff == "0001" { [1, 3] } else { [0, 2] };
        for i in idle {
            assert_eq!(after[i], before[i], "tariff {tariff} but register {i} grew");
        }
        if now % 300 == 0 {
            assert_eq!(t.gas_stamp(), t.stamp(), "gas read at the mark");
        } else {
            assert_eq!(t.raw("0-1:24.2.1"), prev.raw("0-1:24.2.1"));
        }
        let (import, export) = (t.num("1-0:1.7.0"), t.num("1-0:2.7.0"));
        assert!(import == 0.0 || export == 0.0);
        // Per phase L1, L2, L3: V, A, kW in, kW out; together the total.
        let mut phases_net = 0.0;
        for codes in [
            ["32", "31", "21", "22"],
            ["52", "51", "41", "42"],
            ["72", "71", "61", "62"],
        ] {
            let [volts, amps, p_in, p_out] = codes.map(|c| t.num(&format!("1-0:{c}.7.0")));
            assert!((220.0..240.0).contains(&volts), "{volts} V");
            let expected = (p_in + p_out) * 1000.0 / volts;
            assert!((amps - expected).abs() <= 0.5, "{amps} A");
            phases_net += p_in - p_out;
        }
        assert!(
            (phases_net - (import - export)).abs() < 0.0005,
            "phases add up"
        );
        sum.integrated[0] += import / 3600.0;
        sum.integrated[1] += export / 3600.0;
        sum.max_import = sum.max_import.max(import);
        let hour: u32 = t.stamp()[6..8].parse().unwrap();
        if hour < 5 {
            sum.night_min = sum.night_min.min(import - export);
        }
        sum.max_export = sum.max_export.max(export);
        if export > 0.0 && !sum.export_hours.contains(&hour) {
            sum.export_hours.push(hour);
        }
        let power = |t: &Telegram| (t.num("1-0:1.7.0"), t.num("1-0:2.7.0"));
        sum.changes += usize::from(power(&t) != power(&prev));
        prev = t;
    }
    let last = prev.registers;
    sum.counted = [
        last[0] + last[1] - first[0] - first[1],
        last[2] + last[3] - first[2] - first[3],
    ];
    sum.gas_growth = last[4] - first[4];
    sum
}

/// Integrated power and register growth agree: within 3%, or 0.05 kWh for
/// small amounts.
fn agree(integrated: f64, counted: f64) -> bool {
    (integrated - counted).abs() <= (0.03 * counted).max(0.05)
}

fn print(what: &str, day: &DaySummary) {
    println!(
        "{what}: in {:.2} kWh (power integrated {:.2}), out {:.2} (integrated {:.2}), \
         gas {:.3} m3, night base {:.3} kW, import up to {:.3} kW, export up to {:.3} kW in hours {:?}, \
         power changed in {} of the seconds",
        day.counted[0],
        day.integrated[0],
        day.counted[1],
        day.integrated[1],
        day.gas_growth,
        day.night_min,
        day.max_import,
        day.max_export,
        day.export_hours,
        day.changes
    );
    assert!(agree(day.integrated[0], day.counted[0]));
    assert!(agree(day.integrated[1], day.counted[1]));
    assert!(day.changes > 40_000, "power varies from second to second");
}

// A summer weekday, Wednesday 2026-06-17, second by second, in two halves
// that run side by side.

#[test]
fn a_summer_weekday_night_and_morning_second_by_second() {
    let half = follow(utc(2026, 6, 16, 22, 0), 43_200);
    print("00:00-12:00", &half);
    assert!(
        (0.5..10.0).contains(&half.counted[0]),
        "a household's night and morning"
    );
    assert!(
        (0.05..0.5).contains(&half.night_min),
        "a base load at night"
    );
    assert!(half.max_import > 0.5 && half.max_import < 10.0);
    assert!(half.export_hours.iter().all(|h| (6..12).contains(h)));
    assert!(
        half.gas_growth > 0.1 && half.gas_growth < 1.0,
        "showers, no heating"
    );
}

#[test]
fn a_summer_weekday_afternoon_and_evening_second_by_second() {
    let half = follow(utc(2026, 6, 17, 10, 0), 43_200);
    print("12:00-24:00", &half);
    assert!(
        half.counted[1] > 1.0,
        "a June afternoon returns solar power"
    );
    assert!(half.max_export > 0.3 && half.max_export < 3.0);
    assert!(
        half.max_import > 0.5 && half.max_import < 10.0,
        "the evening peak"
    );
    assert!(half.export_hours.iter().all(|h| (12..22).contains(h)));
    assert!(
        half.gas_growth > 0.01 && half.gas_growth < 1.0,
        "cooking, no heating"
    );
}

#[test]
fn a_winter_saturday_is_tariff_1_and_returns_only_around_noon() {
    let mut run = Run::start(utc(2026, 1, 9, 23, 0));
    let mut export_hours = Vec::new();
    let first = run.after(0.0).registers;
    let mut last = first;
    for _ in 0..(86_400 / 20) {
        let t = run.after(20.0);
        assert_eq!(t.value("0-0:96.14.0"), "0001");
        if t.num("1-0:2.7.0") > 0.0 {
            export_hours.push(t.stamp()[6..8].parse::<u32>().unwrap());
        }
        last = t.registers;
    }
    assert_eq!(last[1], first[1], "no tariff 2 on a Saturday");
    assert!(
        export_hours.iter().all(|h| (8..17).contains(h)),
        "{export_hours:?}"
    );
    assert!(
        last[4] - first[4] > 2.0,
        "a January day heats: {} m3",
        last[4] - first[4]
    );
}

#[test]
fn a_restarted_p1mux_continues_the_same_meter() {
    let t0 = utc(2026, 11, 30, 9, 17);
    let mut before = Run::start(t0);
    let mut last = before.after(0.0);
    for _ in 0..600 {
        last = before.after(1.0);
    }
    // p1mux restarts two hours later; the old meter, had it run on,
    // would have sent exactly what the new one sends.
    let mut after = Run::start(t0 + 600 + 7200);
    let restarted = after.after(0.0);
    let went_on = before.after(7200.0);
    assert_eq!(restarted.text, went_on.text);
    let (old, new) = (last.registers, restarted.registers);
    assert!((0..5).all(|i| new[i] >= old[i]));
    assert!(
        new[1] + new[3] > old[1] + old[3],
        "a Monday morning is tariff 2"
    );
}

#[test]
fn a_year_of_a_plausible_household() {
    let at = |unix| Run::start(unix).after(0.0).registers;
    let (a, b) = (at(utc(2025, 1, 1, 0, 0)), at(utc(2026, 1, 1, 0, 0)));
    let year = |i: usize, j: usize| b[i] + b[j] - a[i] - a[j];
    let (import, export, gas) = (year(0, 1), year(2, 3), b[4] - a[4]);
    println!("a year: {import:.0} kWh in, {export:.0} kWh out, {gas:.0} m3 gas");
    assert!((1500.0..4500.0).contains(&import));
    assert!((800.0..3500.0).contains(&export));
    assert!((500.0..1800.0).contains(&gas));
}

#[test]
fn time_stamps_follow_daylight_saving_time() {
    for (from, stamps) in [
        (utc(2026, 3, 29, 0, 59), ["260329015959W", "260329030000S"]),
        (utc(2026, 10, 25, 0, 59), ["261025025959S", "261025020000W"]),
    ] {
        let mut run = Run::start(from);
        let mut prev = run.after(0.0);
        let mut switched = false;
        for _ in 0..120 {
            let t = run.after(1.0);
            assert!((0..5).all(|i| t.registers[i] >= prev.registers[i]));
            if t.stamp() == stamps[1] {
                assert_eq!(prev.stamp(), stamps[0]);
                assert_eq!(t.gas_stamp(), stamps[1], "a 5-minute mark");
                switched = true;
            }
            prev = t;
        }
        assert!(switched, "{stamps:?}");
        assert_eq!(expected_stamp(from + 60), stamps[1]);
    }
}
