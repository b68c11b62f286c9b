//! A summer weekday at one telegram a second: every telegram against its
//! predecessor, and the day's energy, power and gas as a household's.

use p1mux::source::demo::HEADER;

use crate::calendar::{expected_stamp, utc};
use crate::{Run, Telegram};

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
