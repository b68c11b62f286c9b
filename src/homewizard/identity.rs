//! Who p1mux is to HomeWizard's clients: `/api`, and the serial that
//! Home Assistant makes its unique id from (`HWE-P1_{serial}`).
//!
//! The serial is derived from the meter's equipment id, so it stays the
//! same across restarts and reinstalls, and two p1mux on one box (two
//! meters) get two. Meters that send no equipment id (Swedish, Austrian)
//! get theirs from the header and the source's name (the device path),
//! which tell two such meters on one box apart.

use crate::config::SourceConfig;
use crate::json::Writer;
use crate::telegram::Reading;

/// The source's name as the identity of a meter without an equipment id
/// sees it: the device path, `tcp://HOST:PORT`, `demo`.
pub fn source_name(source: &SourceConfig) -> String {
    match source {
        SourceConfig::Serial { device, .. } => device.display().to_string(),
        SourceConfig::Network(net) => net.to_string(),
        SourceConfig::Demo => "demo".into(),
    }
}

pub const PRODUCT_TYPE: &str = "HWE-P1";
pub const PRODUCT_NAME: &str = "P1 Meter (p1mux)";
pub const API_VERSION: &str = "v1";
/// p1mux's own version: a plain version number, as clients compare them.
pub const FIRMWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// One meter's HomeWizard identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// 12 lowercase hex digits (a real P1 meter's MAC address).
    pub serial: String,
}

impl Identity {
    /// The identity of the meter that sent `reading`, read from `source`.
    pub fn of(reading: &Reading, source: &str) -> Identity {
        let seed = match &reading.meter.equipment_id {
            Some(id) => format!("equipment id {}", id.raw),
            None => format!("header {} on {source}", reading.meter.header),
        };
        // FNV-1a: stable forever (unlike std's hasher) and enough to tell
        // a household's meters apart.
        let hash = seed.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        Identity {
            serial: format!("{:012x}", (hash ^ (hash >> 48)) & 0xffff_ffff_ffff),
        }
    }

    /// `/api`.
    pub fn json(&self) -> String {
        let mut w = Writer::new();
        w.begin_object();
        w.key("product_type").string(PRODUCT_TYPE);
        w.key("product_name").string(PRODUCT_NAME);
        w.key("serial").string(&self.serial);
        w.key("firmware_version").string(FIRMWARE_VERSION);
        w.key("api_version").string(API_VERSION);
        w.end_object();
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DSMR50: &[u8] = include_bytes!("../../tests/data/dsmr50_iskra_am550_2mbus.txt");
    const BELGIUM: &[u8] =
        include_bytes!("../../tests/data/belgium_fluvius_emucs171_gas_water.txt");
    const SWEDEN: &[u8] = include_bytes!("../../tests/data/sweden_aidon_6534.txt");

    #[test]
    fn stable_and_distinct() {
        let dutch = Identity::of(&Reading::parse(DSMR50), "/dev/ttyUSB0");
        assert_eq!(dutch.serial.len(), 12);
        assert!(
            dutch
                .serial
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        // The equipment id decides; where it is read from does not.
        assert_eq!(
            dutch,
            Identity::of(&Reading::parse(DSMR50), "tcp://pi:2000")
        );
        // Fixed forever: Home Assistant keeps its entities under it.
        assert_eq!(
            dutch.serial,
            Identity::of(&Reading::parse(DSMR50), "").serial
        );
        let belgian = Identity::of(&Reading::parse(BELGIUM), "/dev/ttyUSB0");
        assert_ne!(dutch, belgian);
        let sweden = Reading::parse(SWEDEN);
        assert_ne!(
            Identity::of(&sweden, "/dev/ttyUSB0"),
            Identity::of(&sweden, "/dev/ttyUSB1"),
            "two meters without an id on one box"
        );
        let api = dutch.json();
        assert!(
            api.starts_with(r#"{"product_type":"HWE-P1","product_name":"#),
            "{api}"
        );
        assert!(api.contains(&format!(r#""serial":"{}""#, dutch.serial)));
        assert!(api.ends_with(r#""api_version":"v1"}"#), "{api}");
    }
}
