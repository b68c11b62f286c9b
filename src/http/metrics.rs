//! `/metrics`: the gateway's counters and the meter's values in the
//! Prometheus text exposition format (version 0.0.4).
//!
//! Meter values are named from their catalog key, `p1mux_meter_<key>_<unit>`,
//! counters ending in `_total`: `p1mux_meter_energy_delivered_tariff1_kwh_total`,
//! `p1mux_meter_power_delivered_watts`, `p1mux_meter_gas_delivered_cubic_meters_total`.
//! Units follow Prometheus' preference for base units where that is what
//! people read (watts, volts, amperes, joules for heat), except energy,
//! which stays in kWh, the unit of the meter's own registers and of every
//! bill: joules would turn 2130.115 kWh into 7668414000. Values are
//! rescaled from the meter's digits by moving the decimal point, so the
//! exposition is exact (an Austrian meter's Wh become the same kWh).

use std::fmt::Write as _;
use std::time::Instant;

use crate::framer::Reject;
use crate::health::{OutputStatus, Status};
use crate::telegram::catalog::MetricKind;
use crate::telegram::{Data, Reading, Value};

/// The exposition's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The whole exposition. `http` is the HTTP output's own live status,
/// fresher than the one in the snapshot.
pub fn render(
    status: Option<&Status>,
    http: &OutputStatus,
    reading: Option<&Reading>,
    now: Instant,
) -> String {
    let mut m = Metrics::default();
    m.family("p1mux_build_info", "gauge", "p1mux's version.");
    m.sample("", &[("version", env!("CARGO_PKG_VERSION"))], "1");
    if let Some(s) = status {
        gateway(&mut m, s, http, now);
    }
    if let Some(r) = reading {
        meter(&mut m, r);
    }
    m.out
}

fn gateway(m: &mut Metrics, s: &Status, http: &OutputStatus, now: Instant) {
    let uptime = now.saturating_duration_since(s.started).as_secs_f64();
    m.single(
        "p1mux_uptime_seconds",
        "gauge",
        "Seconds since p1mux started.",
        uptime,
    );
    let help = "Valid telegrams received from the meter.";
    m.single(
        "p1mux_telegrams_total",
        "counter",
        help,
        s.stats.telegrams as f64,
    );
    m.single(
        "p1mux_telegrams_cr_restored_total",
        "counter",
        "Valid telegrams whose stripped CRs (CRLF turned into LF) were restored.",
        s.stats.cr_restored as f64,
    );
    m.family(
        "p1mux_rejects_total",
        "counter",
        "Telegrams rejected, by reason (crc, truncated, parity, ...).",
    );
    for reason in Reject::ALL {
        let n = s.stats.rejects[reason.index()].to_string();
        m.sample("", &[("reason", reason.name())], &n);
    }
    let help = "Bytes read from the meter's port.";
    m.single(
        "p1mux_source_bytes_total",
        "counter",
        help,
        s.stats.bytes_in as f64,
    );
    let up = if s.source.up { 1.0 } else { 0.0 };
    m.single(
        "p1mux_source_up",
        "gauge",
        "1 while the meter's port is open.",
        up,
    );
    m.family("p1mux_source_info", "gauge", "Where telegrams come from.");
    let setting = s.source.setting.as_deref().unwrap_or("");
    let labels = [
        ("kind", s.source.kind),
        ("name", &*s.source.name),
        ("setting", setting),
    ];
    m.sample("", &labels, "1");
    if let Some(state) = s.source.detection {
        m.family(
            "p1mux_serial_detection",
            "gauge",
            "How the serial setting came about: 1 for the current state.",
        );
        for each in ["detected", "detecting", "fixed"] {
            m.sample(
                "",
                &[("state", each)],
                if each == state { "1" } else { "0" },
            );
        }
    }
    if let Some(at) = s.last_telegram {
        let age = now.saturating_duration_since(at).as_secs_f64();
        let help = "Seconds since the last valid telegram.";
        m.single("p1mux_last_telegram_age_seconds", "gauge", help, age);
    }
    let outputs: Vec<&OutputStatus> = s
        .outputs
        .iter()
        .map(|o| if o.name == http.name { http } else { o })
        .collect();
    m.family("p1mux_clients", "gauge", "Clients connected, by output.");
    for o in &outputs {
        m.sample("", &[("output", o.name)], &o.clients.to_string());
    }
    let help = "Messages dropped from full client queues, by output.";
    m.family("p1mux_dropped_total", "counter", help);
    for o in &outputs {
        m.sample("", &[("output", o.name)], &o.dropped.to_string());
    }
}

fn meter(m: &mut Metrics, r: &Reading) {
    m.family(
        "p1mux_meter_info",
        "gauge",
        "The meter of the last valid telegram.",
    );
    let version = r.version().unwrap_or_default();
    let id = r.equipment_id().unwrap_or_default();
    let labels = [
        ("header", &*r.meter.header),
        ("version", &*version),
        ("equipment_id", id),
    ];
    m.sample("", &labels, "1");
    for v in &r.values {
        let (Some(kind), Data::Number(n)) = (v.spec.metric, &v.data) else {
            continue;
        };
        let Some((unit, shift)) = metric_unit(v) else {
            continue;
        };
        let (kind, total) = match kind {
            MetricKind::Counter => ("counter", "_total"),
            MetricKind::Gauge => ("gauge", ""),
        };
        let name = format!("p1mux_meter_{}{unit}{total}", v.key);
        let shown = v
            .unit
            .as_deref()
            .map(|u| format!(", sent in {u}"))
            .unwrap_or_default();
        m.family(&name, kind, &format!("{} ({}{shown}).", v.name, v.obis));
        m.sample("", &[], &shift_decimal(&n.text, shift));
        if let Some(unix) = v.time.as_ref().and_then(|t| t.unix()) {
            let name = format!("p1mux_meter_{}_timestamp_seconds", v.key);
            let help = format!("When the meter last read {} (Unix time).", v.name);
            m.single(&name, "gauge", &help, unix as f64);
        }
    }
}

/// The metric's unit suffix and the power of ten that turns the sent
/// number into it; None when the sent unit is not the catalog's.
fn metric_unit(v: &Value) -> Option<(&'static str, i32)> {
    // Catalog unit -> (suffix, base unit, power of ten of the metric's unit).
    let (suffix, base, exp) = match v.spec.unit {
        Some("kWh") => ("_kwh", "Wh", 3),
        Some("kvarh") => ("_kvarh", "varh", 3),
        Some("kW") => ("_watts", "W", 0),
        Some("kvar") => ("_var", "var", 0),
        Some("kVA") => ("_voltamperes", "VA", 0),
        Some("GJ") => ("_joules", "J", 0),
        Some("V") => ("_volts", "V", 0),
        Some("A") => ("_amperes", "A", 0),
        Some("m3") => ("_cubic_meters", "m3", 0),
        Some(_) => return None,
        None if v.unit.is_none() => return Some(("", 0)),
        None => return None,
    };
    let sent = v.unit.as_deref()?;
    let prefixed = |p: char, e: i32| {
        sent.strip_prefix(p)
            .filter(|rest| rest.eq_ignore_ascii_case(base))
            .map(|_| e)
    };
    let sent_exp = if sent.eq_ignore_ascii_case(base) {
        0
    } else {
        prefixed('k', 3).or(prefixed('M', 6)).or(prefixed('G', 9))?
    };
    Some((suffix, sent_exp - exp))
}

/// A DSMR number's text times 10^`shift`, exactly: `"001.193"`, 3 -> `"1193"`.
fn shift_decimal(text: &str, shift: i32) -> String {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", text),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all: String = format!("{int}{frac}");
    // Where the point goes in `all`, possibly outside it.
    let point = int.len() as i64 + i64::from(shift);
    let padded_left = (-point).max(0) as usize;
    let padded_right = (point - all.len() as i64).max(0) as usize;
    let all = format!(
        "{}{all}{}",
        "0".repeat(padded_left),
        "0".repeat(padded_right)
    );
    let (i, f) = all.split_at((point + padded_left as i64) as usize);
    let i = i.trim_start_matches('0');
    let f = f.trim_end_matches('0');
    let i = if i.is_empty() { "0" } else { i };
    let body = if f.is_empty() {
        i.to_string()
    } else {
        format!("{i}.{f}")
    };
    if body == "0" {
        body
    } else {
        format!("{sign}{body}")
    }
}

/// The exposition being written.
#[derive(Default)]
struct Metrics {
    out: String,
    /// The family being written, for its samples' names.
    name: String,
}

impl Metrics {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        self.name = name.to_string();
    }

    fn sample(&mut self, suffix: &str, labels: &[(&str, &str)], value: &str) {
        let _ = write!(self.out, "{}{suffix}", self.name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    fn single(&mut self, name: &str, kind: &str, help: &str, value: f64) {
        self.family(name, kind, help);
        self.sample("", &[], &format_f64(value));
    }
}

fn format_f64(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "NaN".into()
    }
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_shifts_are_exact() {
        for (text, shift, want) in [
            ("001.193", 3, "1193"),
            ("00.000", 3, "0"),
            ("-0.5", 3, "-500"),
            ("002130.115", 0, "2130.115"),
            ("1234", -3, "1.234"),
            ("5", -3, "0.005"),
            ("0.0012", 6, "1200"),
            ("-000.000", 0, "0"),
            ("12.5", 1, "125"),
        ] {
            assert_eq!(shift_decimal(text, shift), want, "{text} {shift}");
        }
    }

    #[test]
    fn meter_values() {
        let r = Reading::parse(
            b"/ISK5\\2M550T-1012\r\n\r\n1-3:0.2.8(50)\r\n1-0:1.8.1(002130.115*kWh)\r\n\
              1-0:2.8.2(1500*Wh)\r\n1-0:1.7.0(01.193*kW)\r\n1-0:32.7.0(230.1*V)\r\n\
              0-0:96.7.21(00004)\r\n0-1:24.1.0(003)\r\n\
              0-1:24.2.1(200426223001S)(00246.138*m3)\r\n!0000\r\n",
        );
        let out = render(None, &OutputStatus::default(), Some(&r), Instant::now());
        for want in [
            "p1mux_meter_info{header=\"/ISK5\\\\2M550T-1012\",version=\"DSMR 5.0\",equipment_id=\"\"} 1",
            "# TYPE p1mux_meter_energy_delivered_tariff1_kwh_total counter",
            "p1mux_meter_energy_delivered_tariff1_kwh_total 2130.115",
            "p1mux_meter_energy_returned_tariff2_kwh_total 1.5",
            "# TYPE p1mux_meter_power_delivered_watts gauge",
            "p1mux_meter_power_delivered_watts 1193",
            "p1mux_meter_voltage_l1_volts 230.1",
            "p1mux_meter_power_failures_total 4",
            "p1mux_meter_gas_delivered_cubic_meters_total 246.138",
            "p1mux_meter_gas_delivered_timestamp_seconds 1587933001",
        ] {
            assert!(out.lines().any(|l| l == want), "{want}\n{out}");
        }
    }
}
