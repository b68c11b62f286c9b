//! A winter Saturday, a restart, a whole year, and the switches to and
//! from daylight saving time.

use crate::Run;
use crate::calendar::{expected_stamp, utc};

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
