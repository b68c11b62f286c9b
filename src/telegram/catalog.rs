//! What each known OBIS id means: its stable key, a human name, and how a
//! consumer should present it (Home Assistant classes, Prometheus kind).
//!
//! Keys are snake_case and never change meaning: MQTT topics, Home Assistant
//! unique ids and Prometheus metric names are made from them. A key with a
//! tariff (`energy_delivered_tariff1`) or a second M-Bus device of the same
//! kind (`gas_delivered_ch2`) extends a base key listed here.

use super::line::Obis;

/// Home Assistant's sensor device classes used here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceClass {
    Energy,
    Gas,
    Water,
    Power,
    ReactivePower,
    ApparentPower,
    Voltage,
    Current,
}

impl DeviceClass {
    /// The name Home Assistant's discovery expects.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceClass::Energy => "energy",
            DeviceClass::Gas => "gas",
            DeviceClass::Water => "water",
            DeviceClass::Power => "power",
            DeviceClass::ReactivePower => "reactive_power",
            DeviceClass::ApparentPower => "apparent_power",
            DeviceClass::Voltage => "voltage",
            DeviceClass::Current => "current",
        }
    }
}

/// Home Assistant's state classes. Every DSMR register that only grows is
/// `TotalIncreasing` (a drop means a meter reset); nothing here is a total
/// that may go down, so HA's third class, `total`, is not needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateClass {
    Measurement,
    TotalIncreasing,
}

impl StateClass {
    pub fn as_str(self) -> &'static str {
        match self {
            StateClass::Measurement => "measurement",
            StateClass::TotalIncreasing => "total_increasing",
        }
    }
}

/// How a Prometheus exporter should type the metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
}

/// What a known OBIS id means.
#[derive(Debug, PartialEq, Eq)]
pub struct Spec {
    /// Base key; a tariff or channel suffix may be added to it.
    pub key: &'static str,
    /// For people: status page, Home Assistant entity name.
    pub name: &'static str,
    /// The unit DSMR specifies; a meter may send another scale of it
    /// (Austrian meters send Wh and W), see `Value::number_in`.
    pub unit: Option<&'static str>,
    pub device_class: Option<DeviceClass>,
    /// None for text, event lists and settings that are no measurement.
    pub state_class: Option<StateClass>,
    /// None when the value is no number (text, event log).
    pub metric: Option<MetricKind>,
    /// Meter health rather than consumption (Home Assistant's "diagnostic"
    /// entity category): failures, sags, thresholds, breaker, messages.
    pub diagnostic: bool,
}

const fn spec(
    key: &'static str,
    name: &'static str,
    unit: &'static str,
    class: DeviceClass,
) -> Spec {
    let total = matches!(
        class,
        DeviceClass::Energy | DeviceClass::Gas | DeviceClass::Water
    );
    Spec {
        key,
        name,
        unit: Some(unit),
        device_class: Some(class),
        state_class: Some(if total {
            StateClass::TotalIncreasing
        } else {
            StateClass::Measurement
        }),
        metric: Some(if total {
            MetricKind::Counter
        } else {
            MetricKind::Gauge
        }),
        diagnostic: false,
    }
}

/// A growing count of events (failures, sags, swells).
const fn count(key: &'static str, name: &'static str) -> Spec {
    Spec {
        key,
        name,
        unit: None,
        device_class: None,
        state_class: Some(StateClass::TotalIncreasing),
        metric: Some(MetricKind::Counter),
        diagnostic: true,
    }
}

/// A state or setting the meter reports (tariff, breaker, thresholds, an
/// M-Bus valve).
pub(super) const fn status(
    key: &'static str,
    name: &'static str,
    unit: Option<&'static str>,
) -> Spec {
    Spec {
        key,
        name,
        unit,
        device_class: None,
        state_class: None,
        metric: Some(MetricKind::Gauge),
        diagnostic: true,
    }
}

/// Text or a list: no number to chart or scrape.
const fn info(key: &'static str, name: &'static str) -> Spec {
    Spec {
        key,
        name,
        unit: None,
        device_class: None,
        state_class: None,
        metric: None,
        diagnostic: true,
    }
}

use DeviceClass::*;

// Energy registers (1-0:C.8.E): E = 0 is the total, E = n tariff n.
pub static ENERGY_DELIVERED: Spec = spec("energy_delivered", "Energy delivered", "kWh", Energy);
pub static ENERGY_RETURNED: Spec = spec("energy_returned", "Energy returned", "kWh", Energy);
/// Home Assistant has no device class for reactive energy: none is given.
pub static REACTIVE_ENERGY_DELIVERED: Spec = Spec {
    device_class: None,
    ..spec(
        "reactive_energy_delivered",
        "Reactive energy delivered",
        "kvarh",
        Energy,
    )
};
pub static REACTIVE_ENERGY_RETURNED: Spec = Spec {
    device_class: None,
    ..spec(
        "reactive_energy_returned",
        "Reactive energy returned",
        "kvarh",
        Energy,
    )
};

/// Instantaneous values (1-0:C.7.0) by C.
#[rustfmt::skip]
static INSTANT: [(u8, Spec); 24] = [
    (1, spec("power_delivered", "Power delivered", "kW", Power)),
    (2, spec("power_returned", "Power returned", "kW", Power)),
    (21, spec("power_delivered_l1", "Power delivered L1", "kW", Power)),
    (41, spec("power_delivered_l2", "Power delivered L2", "kW", Power)),
    (61, spec("power_delivered_l3", "Power delivered L3", "kW", Power)),
    (22, spec("power_returned_l1", "Power returned L1", "kW", Power)),
    (42, spec("power_returned_l2", "Power returned L2", "kW", Power)),
    (62, spec("power_returned_l3", "Power returned L3", "kW", Power)),
    (3, spec("reactive_power_delivered", "Reactive power delivered", "kvar", ReactivePower)),
    (4, spec("reactive_power_returned", "Reactive power returned", "kvar", ReactivePower)),
    (23, spec("reactive_power_delivered_l1", "Reactive power delivered L1", "kvar", ReactivePower)),
    (43, spec("reactive_power_delivered_l2", "Reactive power delivered L2", "kvar", ReactivePower)),
    (63, spec("reactive_power_delivered_l3", "Reactive power delivered L3", "kvar", ReactivePower)),
    (24, spec("reactive_power_returned_l1", "Reactive power returned L1", "kvar", ReactivePower)),
    (44, spec("reactive_power_returned_l2", "Reactive power returned L2", "kvar", ReactivePower)),
    (64, spec("reactive_power_returned_l3", "Reactive power returned L3", "kvar", ReactivePower)),
    (9, spec("apparent_power_delivered", "Apparent power delivered", "kVA", ApparentPower)),
    (10, spec("apparent_power_returned", "Apparent power returned", "kVA", ApparentPower)),
    (32, spec("voltage_l1", "Voltage L1", "V", Voltage)),
    (52, spec("voltage_l2", "Voltage L2", "V", Voltage)),
    (72, spec("voltage_l3", "Voltage L3", "V", Voltage)),
    (31, spec("current_l1", "Current L1", "A", Current)),
    (51, spec("current_l2", "Current L2", "A", Current)),
    (71, spec("current_l3", "Current L3", "A", Current)),
];

/// Everything else on the meter itself, by exact OBIS id.
#[rustfmt::skip]
static OTHER: [(Obis, Spec); 15] = [
    (Obis::new(0, 0, 96, 14, 0), status("tariff", "Tariff", None)),
    (Obis::new(1, 0, 1, 4, 0), spec("power_delivered_average", "Power delivered, 15-minute average", "kW", Power)),
    (Obis::new(1, 0, 1, 6, 0), spec("power_delivered_peak_month", "Power delivered, peak this month", "kW", Power)),
    (Obis::new(0, 0, 17, 0, 0), status("power_threshold", "Power limiter threshold", Some("kW"))),
    (Obis::new(1, 0, 31, 4, 0), status("fuse_threshold_l1", "Fuse supervision threshold L1", Some("A"))),
    (Obis::new(0, 0, 96, 3, 10), status("breaker_state", "Breaker state", None)),
    (Obis::new(0, 0, 96, 7, 21), count("power_failures", "Power failures")),
    (Obis::new(0, 0, 96, 7, 9), count("power_failures_long", "Long power failures")),
    (Obis::new(1, 0, 99, 97, 0), info("power_failure_log", "Power failure log")),
    (Obis::new(1, 0, 32, 32, 0), count("voltage_sags_l1", "Voltage sags L1")),
    (Obis::new(1, 0, 52, 32, 0), count("voltage_sags_l2", "Voltage sags L2")),
    (Obis::new(1, 0, 72, 32, 0), count("voltage_sags_l3", "Voltage sags L3")),
    (Obis::new(1, 0, 32, 36, 0), count("voltage_swells_l1", "Voltage swells L1")),
    (Obis::new(1, 0, 52, 36, 0), count("voltage_swells_l2", "Voltage swells L2")),
    (Obis::new(1, 0, 72, 36, 0), count("voltage_swells_l3", "Voltage swells L3")),
];

pub static TEXT_MESSAGE: Spec = info("text_message", "Text message");
pub static TEXT_MESSAGE_CODE: Spec = info("text_message_code", "Text message code");

/// What a value line of the meter itself means, and the tariff, if any,
/// that extends its key. M-Bus lines (B = 1..4) are in `mbus`.
pub fn lookup(obis: Obis) -> Option<(&'static Spec, Option<u8>)> {
    let Obis { a, b, c, d, e } = obis;
    if b != 0 {
        return None;
    }
    if a == 1 && d == 8 {
        let spec = match c {
            1 => &ENERGY_DELIVERED,
            2 => &ENERGY_RETURNED,
            3 => &REACTIVE_ENERGY_DELIVERED,
            4 => &REACTIVE_ENERGY_RETURNED,
            _ => return None,
        };
        return Some((spec, (e != 0).then_some(e)));
    }
    if a == 1
        && d == 7
        && e == 0
        && let Some((_, spec)) = INSTANT.iter().find(|(cc, _)| *cc == c)
    {
        return Some((spec, None));
    }
    if obis == Obis::new(0, 0, 96, 13, 0) {
        return Some((&TEXT_MESSAGE, None));
    }
    if obis == Obis::new(0, 0, 96, 13, 1) {
        return Some((&TEXT_MESSAGE_CODE, None));
    }
    OTHER
        .iter()
        .find(|(o, _)| *o == obis)
        .map(|(_, s)| (s, None))
}

/// Every spec of the meter itself (not of its M-Bus devices).
pub fn base() -> impl Iterator<Item = &'static Spec> {
    [
        &ENERGY_DELIVERED,
        &ENERGY_RETURNED,
        &REACTIVE_ENERGY_DELIVERED,
        &REACTIVE_ENERGY_RETURNED,
    ]
    .into_iter()
    .chain(INSTANT.iter().map(|(_, s)| s))
    .chain(OTHER.iter().map(|(_, s)| s))
    .chain([&TEXT_MESSAGE, &TEXT_MESSAGE_CODE])
}

/// The unit as Home Assistant spells it: `m3` is `m³` there, `kVArh` is `kvarh`.
pub fn home_assistant_unit(unit: &str) -> &str {
    match unit {
        "m3" => "m³",
        u if u.eq_ignore_ascii_case("var") => "var",
        u if u.eq_ignore_ascii_case("kvar") => "kvar",
        u if u.eq_ignore_ascii_case("varh") => "varh",
        u if u.eq_ignore_ascii_case("kvarh") => "kvarh",
        u => u,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        let (spec, tariff) = lookup(Obis::new(1, 0, 1, 8, 2)).unwrap();
        assert_eq!((spec.key, tariff), ("energy_delivered", Some(2)));
        assert_eq!(
            lookup(Obis::new(1, 0, 41, 7, 0)).unwrap().0.key,
            "power_delivered_l2"
        );
        assert_eq!(
            lookup(Obis::new(1, 1, 31, 4, 0)),
            None,
            "B = 1 is not the meter"
        );
        assert_eq!(lookup(Obis::new(1, 0, 5, 8, 0)), None);
        assert_eq!(home_assistant_unit("m3"), "m³");
        assert_eq!(home_assistant_unit("kVArh"), "kvarh");
    }
}
