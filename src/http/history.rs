//! The power chart's memory: one averaged point per [`STEP`] for the last
//! [`SPAN`], bounded whatever the telegram rate.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::json::Writer;
use crate::telegram::Reading;

/// One chart point per this much time.
pub const STEP: Duration = Duration::from_secs(10);
/// How far back the chart goes.
pub const SPAN: Duration = Duration::from_secs(3600);
const POINTS: usize = (SPAN.as_secs() / STEP.as_secs()) as usize;

/// Net power (delivered minus returned) over time.
#[derive(Default)]
pub struct History {
    /// Finished points: when each began, and its average in watts.
    points: VecDeque<(Instant, f64)>,
    /// The point being filled: when it began, the sum and count so far.
    open: Option<(Instant, f64, u32)>,
}

impl History {
    /// Adds a telegram's net power, if it says what power flows.
    pub fn add(&mut self, at: Instant, reading: &Reading) {
        if let Some(watts) = net_watts(reading) {
            self.add_watts(at, watts);
        }
    }

    fn add_watts(&mut self, at: Instant, watts: f64) {
        match &mut self.open {
            Some((start, sum, n)) if at.saturating_duration_since(*start) < STEP => {
                *sum += watts;
                *n += 1;
            }
            open => {
                if let Some((start, sum, n)) = open.take() {
                    self.points.push_back((start, sum / f64::from(n)));
                }
                *open = Some((at, watts, 1));
            }
        }
        while self.points.len() >= POINTS
            || self
                .points
                .front()
                .is_some_and(|(t, _)| at.saturating_duration_since(*t) > SPAN)
        {
            self.points.pop_front();
        }
    }

    /// `{"step_s":10,"points":[[-3590,412.5],...]}`: each point's age in
    /// seconds (negative: in the past) and average watts, oldest first.
    pub fn json(&self, now: Instant) -> String {
        let mut w = Writer::new();
        w.begin_object();
        w.key("step_s").number(STEP.as_secs() as f64);
        w.key("points").begin_array();
        let open = self.open.map(|(t, sum, n)| (t, sum / f64::from(n)));
        for (at, watts) in self.points.iter().copied().chain(open) {
            let age = now.saturating_duration_since(at).as_secs_f64();
            w.begin_array()
                .number(-age.round() + 0.0)
                .number((watts * 10.0).round() / 10.0)
                .end_array();
        }
        w.end_array();
        w.end_object();
        w.finish()
    }
}

/// Power delivered minus power returned, in watts; None when the meter
/// sends neither.
pub fn net_watts(reading: &Reading) -> Option<f64> {
    let w = |key| reading.get(key).and_then(|v| v.number_in("W"));
    match (w("power_delivered"), w("power_returned")) {
        (None, None) => None,
        (d, r) => Some(d.unwrap_or(0.0) - r.unwrap_or(0.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_per_step_and_stays_bounded() {
        let t0 = Instant::now();
        let mut h = History::default();
        h.add_watts(t0, 100.0);
        h.add_watts(t0 + Duration::from_secs(5), 300.0);
        h.add_watts(t0 + STEP, 50.0);
        assert_eq!(
            h.json(t0 + STEP),
            r#"{"step_s":10,"points":[[-10,200],[0,50]]}"#
        );
        // Two hours of one telegram a second keep one hour of points.
        for s in 0..7200 {
            h.add_watts(t0 + Duration::from_secs(20 + s), s as f64);
        }
        assert!(h.points.len() < POINTS, "{}", h.points.len());
        let now = t0 + Duration::from_secs(7220);
        let (oldest, _) = h.points.front().unwrap();
        assert!(now.duration_since(*oldest) <= SPAN);
    }

    #[test]
    fn net_power() {
        let r = Reading::parse(b"/X\r\n\r\n1-0:1.7.0(01.193*kW)\r\n1-0:2.7.0(00.200*kW)\r\n!\r\n");
        assert_eq!(net_watts(&r), Some(993.0));
        let r = Reading::parse(b"/X\r\n\r\n1-0:2.7.0(250*W)\r\n!\r\n");
        assert_eq!(net_watts(&r), Some(-250.0));
        assert_eq!(net_watts(&Reading::parse(b"/X\r\n\r\n!\r\n")), None);
    }
}
