//! Devices on the meter's M-Bus (channels 1-4): gas, water, heat meters.
//!
//! A channel's device type (`0-n:24.1.0`, an M-Bus medium code) decides what
//! its reading means, whatever OBIS id carries the reading:
//! `0-n:24.2.1` (DSMR 4/5: timestamp, value), `0-n:24.2.3` (Belgium, gas not
//! temperature-corrected) or `0-n:24.3.0` (DSMR 2.2/3.0: timestamp, four
//! fields, value on the next line). The lines may come in any order.

use super::catalog::DeviceClass::{self, Energy, Gas, Water};
use super::catalog::{MetricKind, Spec, StateClass, status};
use super::line::{Line, Obis, decode_hex_ascii};

/// What an M-Bus device measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Gas,
    /// Cold water; also dual water.
    Water,
    HotWater,
    Heat,
    Cooling,
    /// An electricity sub-meter.
    Electricity,
    /// A medium this catalog has no key for.
    Other,
}

impl Kind {
    /// From the M-Bus medium code DSMR sends as device type (decimal).
    pub fn from_device_type(code: u16) -> Kind {
        match code {
            3 => Kind::Gas,
            7 | 22 | 23 => Kind::Water,
            6 | 21 => Kind::HotWater,
            4 | 12 | 13 => Kind::Heat,
            10 | 11 => Kind::Cooling,
            2 => Kind::Electricity,
            _ => Kind::Other,
        }
    }

    /// Without a device type line (seen on Iskra AM550 channel 2) the unit
    /// is all there is: m3 is gas, as DSMR defines 0-n:24.2.1 for gas.
    fn from_unit(unit: Option<&str>) -> Kind {
        match unit {
            Some("m3") => Kind::Gas,
            Some("GJ") | Some("MJ") => Kind::Heat,
            Some("kWh") | Some("Wh") => Kind::Electricity,
            _ => Kind::Other,
        }
    }

    fn specs(self) -> &'static (Spec, Spec) {
        &SPECS[self as usize]
    }
}

const fn reading(
    key: &'static str,
    name: &'static str,
    unit: &'static str,
    class: Option<DeviceClass>,
) -> Spec {
    Spec {
        key,
        name,
        unit: Some(unit),
        device_class: class,
        state_class: Some(StateClass::TotalIncreasing),
        metric: Some(MetricKind::Counter),
        diagnostic: false,
    }
}

/// A valve's position: a status like the breaker's.
const fn valve(key: &'static str, name: &'static str) -> Spec {
    status(key, name, None)
}

/// Reading and valve spec per `Kind`, in declaration order.
#[rustfmt::skip]
static SPECS: [(Spec, Spec); 7] = [
    (reading("gas_delivered", "Gas delivered", "m3", Some(Gas)), valve("gas_valve", "Gas valve")),
    (reading("water_delivered", "Water delivered", "m3", Some(Water)), valve("water_valve", "Water valve")),
    (reading("hot_water_delivered", "Hot water delivered", "m3", Some(Water)), valve("hot_water_valve", "Hot water valve")),
    (reading("heat_delivered", "Heat delivered", "GJ", Some(Energy)), valve("heat_valve", "Heat valve")),
    (reading("cooling_delivered", "Cooling delivered", "GJ", Some(Energy)), valve("cooling_valve", "Cooling valve")),
    (reading("submeter_energy_delivered", "Sub-meter energy delivered", "kWh", Some(Energy)), valve("submeter_valve", "Sub-meter valve")),
    (Spec { unit: None, ..reading("mbus_delivered", "M-Bus device reading", "", None) }, valve("mbus_valve", "M-Bus valve")),
];

pub(crate) fn specs() -> impl Iterator<Item = &'static Spec> {
    SPECS.iter().flat_map(|(r, v)| [r, v])
}

/// One device on the M-Bus, as far as the telegram describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Device {
    /// 1-4: the B of its OBIS ids.
    pub channel: u8,
    /// `0-n:24.1.0` as a number; None when the meter sent none.
    pub device_type: Option<u16>,
    pub kind: Kind,
    /// `0-n:96.1.0` (Belgium: `0-n:96.1.1`), decoded when hex ASCII.
    pub equipment_id: Option<String>,
    /// The channel only holds a placeholder (`(700101010000W)(00000000)`,
    /// no unit): no device is there, and no reading is published, since a
    /// zero total would wreck every chart of it.
    pub vacant: bool,
}

/// Which line of a channel is what.
pub(crate) enum Role {
    DeviceType,
    EquipmentId,
    Valve,
    /// Field indexes of timestamp, value and unit (None: unit in the value).
    Reading {
        time: usize,
        value: usize,
        unit: Option<usize>,
    },
}

/// What `obis` is on an M-Bus channel, if anything.
pub(crate) fn role(obis: Obis) -> Option<Role> {
    let Obis { a, b, c, d, e } = obis;
    if a != 0 || !(1..=4).contains(&b) {
        return None;
    }
    match (c, d, e) {
        (24, 1, 0) => Some(Role::DeviceType),
        (96, 1, 0) | (96, 1, 1) => Some(Role::EquipmentId),
        (24, 4, 0) => Some(Role::Valve),
        (24, 2, 1) | (24, 2, 3) => Some(Role::Reading {
            time: 0,
            value: 1,
            unit: None,
        }),
        (24, 3, 0) => Some(Role::Reading {
            time: 0,
            value: 6,
            unit: Some(5),
        }),
        _ => None,
    }
}

/// The devices the lines describe, by channel, and each one's key prefix.
pub(crate) fn devices(lines: &[Line]) -> Vec<Device> {
    let mut devices: Vec<Device> = Vec::new();
    for line in lines {
        let (Some(obis), Some(role)) = (line.obis, line.obis.and_then(role)) else {
            continue;
        };
        let at = match devices.iter().position(|d| d.channel == obis.b) {
            Some(at) => at,
            None => {
                devices.push(Device {
                    channel: obis.b,
                    device_type: None,
                    kind: Kind::Other,
                    equipment_id: None,
                    vacant: false,
                });
                devices.len() - 1
            }
        };
        let device = &mut devices[at];
        let first = line.fields.first().map(String::as_str).unwrap_or_default();
        match role {
            Role::DeviceType => {
                device.device_type = device.device_type.or_else(|| first.parse().ok());
            }
            Role::EquipmentId if !first.is_empty() && device.equipment_id.is_none() => {
                device.equipment_id =
                    Some(decode_hex_ascii(first).unwrap_or_else(|| first.to_string()));
            }
            Role::Reading { value, unit, .. } => {
                let (number, own_unit) =
                    super::line::value_and_unit(line.fields.get(value).map_or("", String::as_str));
                let unit =
                    own_unit.or_else(|| unit.and_then(|u| line.fields.get(u)).map(String::as_str));
                if device.device_type.is_none() && device.kind == Kind::Other {
                    device.kind = Kind::from_unit(unit);
                }
                device.vacant = unit.is_none_or(str::is_empty)
                    && !number.is_empty()
                    && number.bytes().all(|b| b == b'0' || b == b'.');
            }
            _ => {}
        }
    }
    for device in &mut devices {
        if let Some(code) = device.device_type {
            device.kind = Kind::from_device_type(code);
        }
    }
    devices.sort_by_key(|d| d.channel);
    devices
}

/// The spec and key of a channel's reading or valve. The lowest occupied
/// channel of each kind gets the plain key (`gas_delivered`), any further
/// one a channel suffix (`gas_delivered_ch3`), so one gas meter always
/// publishes under the same name whatever channel it sits on.
pub(crate) fn key(
    devices: &[Device],
    channel: u8,
    is_valve: bool,
) -> Option<(&'static Spec, String)> {
    let device = devices.iter().find(|d| d.channel == channel)?;
    let (reading, valve) = device.kind.specs();
    let spec = if is_valve { valve } else { reading };
    let first = devices
        .iter()
        .filter(|d| d.kind == device.kind && !d.vacant)
        .map(|d| d.channel)
        .next();
    let key = if first.is_none_or(|c| c == channel) && !device.vacant {
        spec.key.to_string()
    } else {
        format!("{}_ch{}", spec.key, channel)
    };
    Some((spec, key))
}
