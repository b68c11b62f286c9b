//! Home Assistant MQTT device discovery: one retained config message at
//! `DISCOVERY/device/p1mux_ID/config` that makes the meter a device with one
//! sensor per value it sends (Home Assistant 2024.11 and later).
//!
//! The sensors read the `state` topic's JSON (see [`crate::json`]). The
//! set of sensors only grows: a value missing from one telegram (a meter
//! that sends its M-Bus reading now and then) does not remove its sensor
//! and history; a value seen for the first time adds one, and the config
//! is sent again.
//!
//! The device is shown as people know it: the manufacturer by name
//! ("Iskra", not "ISK"), p1mux's version as its software, the tariff as
//! "low" or "normal" as Home Assistant's own DSMR integration shows it
//! (in Belgium tariff 1 is the normal one), and an empty text message as
//! no value rather than an empty string.

use crate::json::Writer;
use crate::telegram::catalog::{DeviceClass, StateClass, home_assistant_unit};
use crate::telegram::{Data, Reading, Value};

/// Home Assistant keeps at most this much of a text state.
const MAX_STATE: usize = 255;

/// The tariff's states, as Home Assistant's DSMR integration names them.
const TARIFFS: [&str; 2] = ["low", "normal"];

/// How a sensor's state is read from the state JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shown {
    Number,
    /// Cut to what Home Assistant keeps; empty is no value.
    Text,
    /// The tariff number as a name: 1 is low and 2 normal, but in Belgium
    /// the opposite (what Home Assistant's DSMR integration does for
    /// "5B" meters).
    Tariff {
        belgian: bool,
    },
}

/// How one sensor is presented.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Component {
    key: String,
    name: String,
    unit: Option<String>,
    device_class: Option<DeviceClass>,
    state_class: Option<StateClass>,
    diagnostic: bool,
    shown: Shown,
}

impl Component {
    /// None for what Home Assistant cannot show as one state (event logs).
    fn of(value: &Value, belgian: bool) -> Option<Component> {
        let shown = match value.data {
            Data::Number(_) if value.key == "tariff" => Shown::Tariff { belgian },
            Data::Number(_) => Shown::Number,
            Data::Text(_) => Shown::Text,
            Data::Events(_) => return None,
        };
        let text = shown != Shown::Number;
        let spec = value.spec;
        let unit = value
            .unit
            .as_deref()
            .or(spec.unit)
            .filter(|_| !text)
            .map(|u| home_assistant_unit(u).to_string());
        Some(Component {
            key: value.key.clone(),
            name: value.name.clone(),
            // A device class without a unit is an error in Home Assistant.
            device_class: spec.device_class.filter(|_| unit.is_some()),
            unit,
            state_class: spec.state_class.filter(|_| !text),
            diagnostic: spec.diagnostic,
            shown,
        })
    }

    /// The Jinja template that takes this sensor's state from the state
    /// JSON. `values` is also a dict method in Jinja: index, never
    /// `.values`. "None" is Home Assistant's word for no value.
    fn template(&self) -> String {
        let value = format!("value_json['values']['{}']['value']", self.key);
        match self.shown {
            Shown::Number => format!("{{{{ {value} }}}}"),
            Shown::Text => format!("{{{{ {value}[:{MAX_STATE}] or None }}}}"),
            Shown::Tariff { belgian } => {
                let [low, normal] = if belgian { [2, 1] } else { [1, 2] };
                format!(
                    "{{{{ {{{low}: '{}', {normal}: '{}'}}.get({value}) }}}}",
                    TARIFFS[0], TARIFFS[1]
                )
            }
        }
    }
}

/// What Home Assistant is told about one meter.
#[derive(Debug, Default)]
pub struct Discovery {
    components: Vec<Component>,
    /// The meter's time as a timestamp sensor, once a telegram had one.
    has_time: bool,
    manufacturer: Option<String>,
    model: String,
    serial: Option<String>,
    version: Option<String>,
}

impl Discovery {
    /// Takes in a reading; true when the config changed and must be sent.
    pub fn learn(&mut self, reading: &Reading) -> bool {
        let mut changed = false;
        let belgian = reading.meter.is_belgian();
        let components = reading.values.iter();
        for component in components.filter_map(|v| Component::of(v, belgian)) {
            match self.components.iter_mut().find(|c| c.key == component.key) {
                Some(known) if *known == component => {}
                Some(known) => {
                    *known = component;
                    changed = true;
                }
                None => {
                    self.components.push(component);
                    changed = true;
                }
            }
        }
        if !self.has_time && reading.time.as_ref().and_then(|t| t.rfc3339()).is_some() {
            self.has_time = true;
            changed = true;
        }
        let model = reading.meter.header.trim_start_matches('/').to_string();
        let manufacturer = reading.meter.manufacturer_name().map(str::to_string);
        let serial = reading.equipment_id().map(str::to_string);
        let version = reading.version();
        if (&model, &manufacturer, &serial, &version)
            != (&self.model, &self.manufacturer, &self.serial, &self.version)
        {
            (self.model, self.manufacturer, self.serial, self.version) =
                (model, manufacturer, serial, version);
            changed = true;
        }
        changed
    }

    /// Sensors announced.
    pub fn len(&self) -> usize {
        self.components.len() + usize::from(self.has_time)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `DISCOVERY/device/p1mux_ID/config`.
    pub fn topic(discovery_prefix: &str, id: &str) -> String {
        format!("{discovery_prefix}/device/p1mux_{id}/config")
    }

    /// The config message's JSON.
    pub fn payload(
        &self,
        id: &str,
        state_topic: &str,
        availability_topic: &str,
        qos: u8,
    ) -> String {
        let device_id = format!("p1mux_{id}");
        let mut w = Writer::new();
        w.begin_object();
        w.key("device").begin_object();
        w.key("identifiers")
            .begin_array()
            .string(&device_id)
            .end_array();
        w.key("name").string(&format!("Smart meter {id}"));
        if let Some(m) = &self.manufacturer {
            w.key("manufacturer").string(m);
        }
        w.key("model").string(&self.model);
        if let Some(s) = &self.serial {
            w.key("serial_number").string(s);
        }
        if let Some(v) = &self.version {
            w.key("hw_version").string(v);
        }
        w.key("sw_version")
            .string(concat!("p1mux ", env!("CARGO_PKG_VERSION")));
        w.end_object();
        w.key("origin").begin_object();
        w.key("name").string("p1mux");
        w.key("sw_version").string(env!("CARGO_PKG_VERSION"));
        w.end_object();
        w.key("state_topic").string(state_topic);
        w.key("availability_topic").string(availability_topic);
        w.key("qos").number(f64::from(qos));
        w.key("components").begin_object();
        for c in &self.components {
            w.key(&c.key).begin_object();
            w.key("platform").string("sensor");
            w.key("name").string(&c.name);
            w.key("unique_id").string(&format!("{device_id}_{}", c.key));
            w.key("value_template").string(&c.template());
            if let Some(u) = &c.unit {
                w.key("unit_of_measurement").string(u);
            }
            if let Some(d) = c.device_class {
                w.key("device_class").string(d.as_str());
            }
            if let Shown::Tariff { .. } = c.shown {
                w.key("device_class").string("enum");
                w.key("options").begin_array();
                for t in TARIFFS {
                    w.string(t);
                }
                w.end_array();
            }
            if let Some(s) = c.state_class {
                w.key("state_class").string(s.as_str());
            }
            if c.diagnostic {
                w.key("entity_category").string("diagnostic");
            }
            w.end_object();
        }
        if self.has_time {
            w.key("time").begin_object();
            w.key("platform").string("sensor");
            w.key("name").string("Meter time");
            w.key("unique_id").string(&format!("{device_id}_time"));
            w.key("value_template").string("{{ value_json.time }}");
            w.key("device_class").string("timestamp");
            w.key("entity_category").string("diagnostic");
            w.end_object();
        }
        w.end_object();
        w.end_object();
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DSMR50: &[u8] = include_bytes!("../../tests/data/dsmr50_iskra_am550_2mbus.txt");
    const DSMR22: &[u8] = include_bytes!("../../tests/data/dsmr22_iskra_mt382-1003.txt");
    const BELGIUM: &[u8] =
        include_bytes!("../../tests/data/belgium_fluvius_emucs171_gas_water.txt");
    const KAIFA: &[u8] = include_bytes!("../../tests/data/dsmr42_kaifa_ma105.txt");

    fn payload_of(telegram: &[u8]) -> String {
        let mut d = Discovery::default();
        d.learn(&Reading::parse(telegram));
        d.payload("x", "s", "a", 0)
    }

    /// Issue 18: the device as people know it.
    #[test]
    fn the_device_names_its_maker_and_p1mux() {
        let json = payload_of(DSMR50);
        let device = r#""device":{"identifiers":["p1mux_x"],"name":"Smart meter x","manufacturer":"Iskra","model":"ISK5\\2M550T-1012","serial_number":"E0044007382246019","hw_version":"DSMR 5.0","sw_version":"p1mux "#;
        assert!(json.contains(device), "{json}");
        let version = concat!(r#""sw_version":"p1mux "#, env!("CARGO_PKG_VERSION"), "\"");
        assert!(json.contains(version), "{json}");
        assert!(payload_of(KAIFA).contains(r#""manufacturer":"Kaifa""#));
        // Letters that are no known maker's stay as they are.
        assert!(payload_of(BELGIUM).contains(r#""manufacturer":"FLU""#));
    }

    /// Issue 18: "low" or "normal", as Home Assistant's DSMR integration
    /// shows the tariff; in Belgium 1 is the normal tariff.
    #[test]
    fn the_tariff_is_named_the_belgian_way_in_belgium() {
        let tariff = |telegram: &[u8]| {
            let json: serde_json::Value = serde_json::from_str(&payload_of(telegram)).unwrap();
            json["components"]["tariff"].clone()
        };
        let dutch = tariff(DSMR50);
        assert_eq!(
            dutch["value_template"],
            "{{ {1: 'low', 2: 'normal'}.get(value_json['values']['tariff']['value']) }}"
        );
        assert_eq!(dutch["device_class"], "enum");
        assert_eq!(dutch["options"], serde_json::json!(["low", "normal"]));
        assert!(dutch["unit_of_measurement"].is_null() && dutch["state_class"].is_null());
        let belgian = tariff(BELGIUM);
        assert_eq!(
            belgian["value_template"],
            "{{ {2: 'low', 1: 'normal'}.get(value_json['values']['tariff']['value']) }}"
        );
        assert_eq!(belgian["options"], dutch["options"]);
    }

    #[test]
    fn one_sensor_per_value_with_home_assistant_classes() {
        let reading = Reading::parse(DSMR50);
        let mut d = Discovery::default();
        assert!(d.learn(&reading));
        assert!(!d.learn(&reading), "nothing new the second time");
        let json = d.payload("E004", "p1mux/E004/state", "p1mux/E004/availability", 0);
        let t1 = r#""energy_delivered_tariff1":{"platform":"sensor","name":"Energy delivered, tariff 1","unique_id":"p1mux_E004_energy_delivered_tariff1","value_template":"{{ value_json['values']['energy_delivered_tariff1']['value'] }}","unit_of_measurement":"kWh","device_class":"energy","state_class":"total_increasing"}"#;
        assert!(json.contains(t1), "{json}");
        assert!(json.contains(r#""unit_of_measurement":"m³","device_class":"gas","state_class":"total_increasing""#), "{json}");
        assert!(
            json.contains(
                r#""unit_of_measurement":"V","device_class":"voltage","state_class":"measurement""#
            ),
            "{json}"
        );
        assert!(json.contains(r#""device_class":"timestamp""#));
        assert!(json.contains(r#""model":"ISK5\\2M550T-1012""#), "{json}");
        assert!(!json.contains("power_failure_log"), "a list is no sensor");
        let numbers = reading
            .values
            .iter()
            .filter(|v| !matches!(v.data, Data::Events(_)))
            .count();
        assert_eq!(d.len(), numbers + 1, "every value and the meter's time");
    }

    #[test]
    fn the_set_only_grows_and_a_new_value_resends() {
        let mut d = Discovery::default();
        let short =
            Reading::parse(b"/ISK5\\2M550T-1012\r\n\r\n1-0:1.8.1(000001.000*kWh)\r\n!0000\r\n");
        let long = Reading::parse(
            b"/ISK5\\2M550T-1012\r\n\r\n1-0:1.8.1(000001.000*kWh)\r\n1-0:1.7.0(00.100*kW)\r\n!0000\r\n",
        );
        assert!(d.learn(&short));
        assert!(d.learn(&long));
        assert!(!d.learn(&short), "a missing value keeps its sensor");
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn dsmr22_has_no_meter_time_and_text_is_cut_for_home_assistant() {
        let mut d = Discovery::default();
        d.learn(&Reading::parse(DSMR22));
        let json = d.payload("x", "s", "a", 1);
        assert!(!json.contains("timestamp"));
        assert!(json.contains(r#""text_message":{"platform":"sensor","name":"Text message","unique_id":"p1mux_x_text_message","value_template":"{{ value_json['values']['text_message']['value'][:255] or None }}","entity_category":"diagnostic"}"#), "{json}");
        assert!(json.contains(r#""qos":1"#));
    }
}
