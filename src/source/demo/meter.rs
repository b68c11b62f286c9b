//! The demo meter itself: the telegram for a given moment.

use std::fmt::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::clock::Local;
use super::model::{Day, cet_day, cos_turns, unit};
use crate::framer::crc16;

/// How often the demo meter sends, like a DSMR 5 meter.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// The meter's header line: an Iskra AM550's, with DEMO for its model
/// suffix, so a log or a consumer's device page shows what it is.
pub const HEADER: &str = "/ISK5\\2M550T-DEMO";
/// The equipment identifiers as meters send them, in hex ASCII:
/// "DEMO-P1MUX-E00001" and "DEMO-P1MUX-G00001".
const METER_ID: &str = "44454D4F2D50314D55582D453030303031";
const GAS_ID: &str = "44454D4F2D50314D55582D473030303031";

/// What a meter's log has collected over the years: power failures, the
/// long ones with when they ended and how long they took, voltage sags and
/// swells per phase, and no text message.
const HISTORY: &str = "0-0:96.7.21(00004)\r\n0-0:96.7.9(00002)\r\n\
    1-0:99.97.0(2)(0-0:96.7.19)(240614093015S)(0000004217*s)(250121180355W)(0000000512*s)\r\n\
    1-0:32.32.0(00003)\r\n1-0:52.32.0(00002)\r\n1-0:72.32.0(00003)\r\n\
    1-0:32.36.0(00000)\r\n1-0:52.36.0(00001)\r\n1-0:72.36.0(00000)\r\n0-0:96.13.0()\r\n";

/// Emits a telegram for the current second whenever one is due.
pub struct DemoMeter {
    next_at: Instant,
    /// The model's day now: building the first sums every day since the
    /// model's start, so that happens once, here, not per telegram. Boxed:
    /// some 16 KiB of knots and registers.
    day: Box<Day>,
    /// The registers last sent (Wh for tariffs 1 and 2 in, then out; gas in
    /// litres): a wall clock stepped back must not make a graph dip.
    sent: [u64; 5],
}

impl DemoMeter {
    /// The first telegram is due at once, so a client sees data immediately.
    pub fn new(now: Instant, wall: SystemTime) -> DemoMeter {
        DemoMeter {
            next_at: now,
            day: Box::new(Day::containing(unix(wall).0)),
            sent: [0; 5],
        }
    }

    /// The header line the meter sends, '/' included: for the log.
    pub fn ident(&self) -> &str {
        HEADER
    }

    pub fn due_at(&self) -> Instant {
        self.next_at
    }

    /// The telegram due at `now`, if any, for the wall clock's second.
    pub fn poll(&mut self, now: Instant, wall: SystemTime) -> Option<Vec<u8>> {
        if now < self.next_at {
            return None;
        }
        let (secs, nanos) = unix(wall);
        // Next one in the middle of the wall clock's next second: each
        // telegram stamps a second of its own whatever the wake-up jitter,
        // the cadence never drifts from the clock, and after the process
        // was stopped for a while it does not try to catch up.
        self.next_at = now + Duration::from_millis(1500) - Duration::from_nanos(nanos);
        Some(self.read(secs).telegram())
    }

    /// The meter at second `unix`.
    fn read(&mut self, unix: i64) -> Reading {
        let day = cet_day(unix);
        if day != self.day.index() {
            *self.day = if day == self.day.index() + 1 {
                self.day.next()
            } else {
                Day::containing(unix)
            };
        }
        let m = self.day.moment(unix);
        // Second-to-second flicker, zero on average: the registers, which
        // integrate the 5-minute model, need not count it.
        let flicker = |stream| unit(unix, 0, stream) * 2.0 - 1.0;
        let load = (m.load * (1.0 + 0.03 * flicker(10)) + 12.0 * flicker(11)).max(0.0);
        let solar = (m.solar * (1.0 + 0.02 * flicker(12))).round() as i64;
        // Whole watts per phase: the house spread over L1 to L3 (the share
        // of L1 drifting through the hour), the inverter feeding into L2.
        // sin(x) = cos(x - 1/4 turn).
        let drift = cos_turns((unix % 3600) as f64 / 3600.0 - 0.25);
        let l1 = (load * (0.45 + 0.1 * drift)).round() as i64;
        let l2 = (load * 0.3).round() as i64;
        let phases = [l1, l2 - solar, load.round() as i64 - l1 - l2];
        // 230 V, a little apart per phase, sagging under the house's load
        // and rising on L2 where the inverter pushes power out.
        let volts = [0, 1, 2].map(|i: usize| {
            let rise = if i == 1 { solar as f64 * 0.0016 } else { 0.0 };
            let v = 230.0 + [0.6, -0.4, 1.1][i] - load * 0.0008 + rise;
            ((v + 0.3 * flicker(13 + i as u64)) * 10.0).round() / 10.0
        });
        let r = m.registers;
        let now = [r.import[0], r.import[1], r.export[0], r.export[1]]
            .map(|joules| (joules / 3600.0) as u64);
        for (sent, value) in self.sent.iter_mut().zip(now.into_iter().chain([r.gas])) {
            *sent = (*sent).max(value);
        }
        Reading {
            unix,
            registers: self.sent,
            tariff: m.tariff,
            phases,
            volts,
            gas_at: m.gas_at,
        }
    }
}

/// The meter at one second, in the units it writes.
struct Reading {
    unix: i64,
    /// Wh for tariffs 1 and 2 in, then out; then gas in litres.
    registers: [u64; 5],
    tariff: u8,
    /// Watts per phase L1 to L3, positive when drawn from the grid.
    phases: [i64; 3],
    volts: [f64; 3],
    /// The gas reading's time stamp: the last 5-minute mark.
    gas_at: i64,
}

impl Reading {
    /// The telegram, as an Iskra AM550 orders its lines.
    fn telegram(&self) -> Vec<u8> {
        let [t1_in, t2_in, t1_out, t2_out, gas] = self.registers;
        let mut t = format!("{HEADER}\r\n\r\n1-3:0.2.8(50)\r\n");
        line(&mut t, "0-0:1.0.0", Local::at(self.unix).dsmr());
        line(&mut t, "0-0:96.1.1", METER_ID);
        let totals = [
            ("1.8.1", t1_in),
            ("1.8.2", t2_in),
            ("2.8.1", t1_out),
            ("2.8.2", t2_out),
        ];
        for (obis, wh) in totals {
            let kwh = format!("{:06}.{:03}*kWh", wh / 1000, wh % 1000);
            line(&mut t, &format!("1-0:{obis}"), kwh);
        }
        line(&mut t, "0-0:96.14.0", format!("{:04}", self.tariff));
        let net: i64 = self.phases.iter().sum();
        line(&mut t, "1-0:1.7.0", kw(net));
        line(&mut t, "1-0:2.7.0", kw(-net));
        t.push_str(HISTORY);
        // Per phase, codes 32/52/72: volts, 31/51/71: amps, 21/41/61: kW
        // drawn, 22/42/62: kW returned.
        let per_phase = |t: &mut String, code: usize, value: &dyn Fn(usize) -> String| {
            for i in 0..3 {
                line(t, &format!("1-0:{}.7.0", code + 20 * i), value(i));
            }
        };
        per_phase(&mut t, 32, &|i| format!("{:.1}*V", self.volts[i]));
        per_phase(&mut t, 31, &|i| {
            let amps = (self.phases[i].abs() as f64 / self.volts[i]).round();
            format!("{amps:03}*A")
        });
        per_phase(&mut t, 21, &|i| kw(self.phases[i]));
        per_phase(&mut t, 22, &|i| kw(-self.phases[i]));
        t.push_str("0-1:24.1.0(003)\r\n");
        line(&mut t, "0-1:96.1.0", GAS_ID);
        let reading = format!("{:05}.{:03}*m3", gas / 1000, gas % 1000);
        let stamp = Local::at(self.gas_at).dsmr();
        line(&mut t, "0-1:24.2.1", format!("{stamp})({reading}"));
        t.push('!');
        let _ = write!(t, "{:04X}\r\n", crc16(t.as_bytes()));
        t.into_bytes()
    }
}

/// One data line: OBIS(value).
fn line(t: &mut String, obis: &str, value: impl std::fmt::Display) {
    let _ = write!(t, "{obis}({value})\r\n");
}

/// The positive part of `watts` as a DSMR 5 meter writes kilowatts: 01.234*kW.
fn kw(watts: i64) -> String {
    let w = watts.max(0);
    format!("{:02}.{:03}*kW", w / 1000, w % 1000)
}

/// Unix seconds and the nanoseconds into the second; a clock before 1970
/// (a board without a battery, not yet synchronised) counts as 1970.
fn unix(wall: SystemTime) -> (i64, u64) {
    wall.duration_since(UNIX_EPOCH).map_or((0, 0), |d| {
        (d.as_secs() as i64, u64::from(d.subsec_nanos()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framer::{Event, Framer, Parity};

    /// 2026-12-02 12:00:00 UTC, 13:00 in Amsterdam.
    const NOON: u64 = 1_796_212_800;

    fn at(unix: u64, ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(unix) + Duration::from_millis(ms)
    }

    /// The value of the first line starting with `obis(`.
    fn field(telegram: &[u8], obis: &str) -> String {
        let text = std::str::from_utf8(telegram).unwrap();
        let line = text.lines().find_map(|l| l.strip_prefix(obis)).unwrap();
        line[1..].split(['*', ')']).next().unwrap().to_string()
    }

    /// Import T1, T2, export T1, T2, gas: the last value of each line.
    fn registers(telegram: &[u8]) -> Vec<f64> {
        let text = std::str::from_utf8(telegram).unwrap();
        [
            "1-0:1.8.1",
            "1-0:1.8.2",
            "1-0:2.8.1",
            "1-0:2.8.2",
            "0-1:24.2.1",
        ]
        .iter()
        .map(|obis| {
            let line = text.lines().find(|l| l.starts_with(obis)).unwrap();
            let last = line.rsplit('(').next().unwrap();
            last.split('*').next().unwrap().parse().unwrap()
        })
        .collect()
    }

    #[test]
    fn cadence_follows_the_wall_clock_without_catching_up() {
        let now = Instant::now();
        let mut meter = DemoMeter::new(now, at(NOON, 200));
        assert!(
            meter.poll(now, at(NOON, 200)).is_some(),
            "the first at once"
        );
        assert!(meter.poll(now, at(NOON, 200)).is_none());
        // The next in the middle of the next second, so it stamps a new one.
        assert_eq!(meter.due_at(), now + Duration::from_millis(1300));
        // Stopped for a while: one telegram for now, none for the past.
        let late = now + Duration::from_secs(10);
        let telegram = meter.poll(late, at(NOON + 9, 900)).unwrap();
        assert_eq!(field(&telegram, "0-0:1.0.0"), "261202130009W");
        assert!(
            meter.poll(late, at(NOON + 9, 900)).is_none(),
            "no catching up"
        );
        assert_eq!(meter.due_at(), late + Duration::from_millis(600));
    }

    #[test]
    fn a_clock_stepped_back_never_makes_the_totals_dip() {
        let now = Instant::now();
        let evening = NOON + 6 * 3600;
        let mut meter = DemoMeter::new(now, at(evening, 500));
        let before = registers(&meter.poll(now, at(evening, 500)).unwrap());
        // NTP steps the clock back an hour: the time says so, the registers hold.
        let later = now + Duration::from_secs(1);
        let stepped = meter.poll(later, at(evening - 3600, 500)).unwrap();
        assert_eq!(field(&stepped, "0-0:1.0.0"), "261202180000W");
        let after = registers(&stepped);
        assert!(
            before.iter().zip(&after).all(|(b, a)| a >= b),
            "{before:?} {after:?}"
        );
    }

    #[test]
    fn a_board_without_a_clock_still_sends_valid_telegrams() {
        let now = Instant::now();
        let mut meter = DemoMeter::new(now, UNIX_EPOCH);
        let telegram = meter.poll(now, UNIX_EPOCH).unwrap();
        assert_eq!(field(&telegram, "0-0:1.0.0"), "700101010000W");
        let mut valid = false;
        Framer::new(Parity::None).push(&telegram, |e| {
            valid = matches!(e, Event::Telegram(t) if t.crc)
        });
        assert!(valid);
    }

    #[test]
    fn equipment_ids_say_demo() {
        let decode = |hex: &str| {
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            String::from_utf8(bytes).unwrap()
        };
        assert_eq!(decode(METER_ID), "DEMO-P1MUX-E00001");
        assert_eq!(decode(GAS_ID), "DEMO-P1MUX-G00001");
    }
}
