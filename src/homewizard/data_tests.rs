//! `/api/v1/data` for the sample meters, read off the telegrams by hand.

use super::data::json;
use crate::telegram::Reading;

const WIFI: &str = r#"{"wifi_ssid":"p1mux (wired)","wifi_strength":100,"#;

fn data(telegram: &[u8]) -> String {
    let json = json(&Reading::parse(telegram));
    serde_json::from_str::<serde_json::Value>(&json).expect("valid JSON");
    assert!(json.starts_with(WIFI), "{json}");
    json[WIFI.len()..].to_string()
}

#[test]
fn dutch_dsmr5_with_gas() {
    // Channel 1 is vacant (`700101010000W`, `00000000`): no external entry.
    let got = data(include_bytes!(
        "../../tests/data/dsmr50_iskra_am550_2mbus.txt"
    ));
    let want = concat!(
        r#""smr_version":50,"meter_model":"ISK5\\2M550T-1012","#,
        r#""unique_id":"4530303434303037333832323436303139","active_tariff":1,"#,
        r#""total_power_import_kwh":2375.582,"total_power_import_t1_kwh":2130.115,"#,
        r#""total_power_import_t2_kwh":245.467,"total_power_export_kwh":0.000,"#,
        r#""total_power_export_t1_kwh":0.000,"total_power_export_t2_kwh":0.000,"#,
        r#""active_power_w":111,"active_power_l1_w":56,"active_power_l2_w":0,"#,
        r#""active_power_l3_w":55,"active_voltage_l1_v":229.9,"active_voltage_l2_v":229.2,"#,
        r#""active_voltage_l3_v":222.9,"active_current_l1_a":0,"active_current_l2_a":0,"#,
        r#""active_current_l3_a":1,"voltage_sag_l1_count":1,"voltage_sag_l2_count":1,"#,
        r#""voltage_sag_l3_count":192,"voltage_swell_l1_count":1,"voltage_swell_l2_count":1,"#,
        r#""voltage_swell_l3_count":1,"any_power_fail_count":5,"long_power_fail_count":3,"#,
        r#""total_gas_m3":246.138,"gas_timestamp":200426223001,"#,
        r#""gas_unique_id":"4730303339303031393336393930363139","external":[{"#,
        r#""unique_id":"4730303339303031393336393930363139","type":"gas_meter","#,
        r#""timestamp":200426223001,"value":246.138,"unit":"m3"}]}"#,
    );
    assert_eq!(got, want);
}

#[test]
fn belgian_peaks_gas_and_water() {
    let got = data(include_bytes!(
        "../../tests/data/belgium_fluvius_emucs171_gas_water.txt"
    ));
    let want = concat!(
        // e-MUCS 50217 is DSMR 5.0.2.
        r#""smr_version":50,"meter_model":"FLU5\\253769484_A","#,
        r#""unique_id":"3153414733313031303231363035","active_tariff":1,"#,
        r#""total_power_import_kwh":15.792,"total_power_import_t1_kwh":0.034,"#,
        r#""total_power_import_t2_kwh":15.758,"total_power_export_kwh":0.011,"#,
        r#""total_power_export_t1_kwh":0.000,"total_power_export_t2_kwh":0.011,"#,
        r#""active_power_w":0,"active_power_l1_w":0,"active_power_l2_w":0,"active_power_l3_w":0,"#,
        r#""active_voltage_l1_v":234.7,"active_voltage_l2_v":234.7,"active_voltage_l3_v":234.7,"#,
        r#""active_current_l1_a":0.00,"active_current_l2_a":0.00,"active_current_l3_a":0.00,"#,
        r#""active_power_average_w":2351,"montly_power_peak_w":2589,"#,
        r#""montly_power_peak_timestamp":200509134558,"#,
        r#""total_gas_m3":112.384,"gas_timestamp":200512134558,"#,
        r#""gas_unique_id":"37464C4F32313139303333373333","external":["#,
        r#"{"unique_id":"37464C4F32313139303333373333","type":"gas_meter","#,
        r#""timestamp":200512134558,"value":112.384,"unit":"m3"},"#,
        r#"{"unique_id":"3853414731323334353637383930","type":"water_meter","#,
        r#""timestamp":200512134558,"value":872.234,"unit":"m3"}]}"#,
    );
    assert_eq!(got, want);
}

#[test]
fn austrian_wh_and_w_as_they_are() {
    // 006545766 Wh is 6545.766 kWh (Domoticz reads 6545766 kWh); 286 W.
    let got = data(include_bytes!(
        "../../tests/data/austria_sagemcom_t210dr.txt"
    ));
    let want = concat!(
        r#""smr_version":50,"meter_model":"EST5\\253710000_A","#,
        r#""total_power_import_kwh":6545.766,"total_power_import_t1_kwh":5017.120,"#,
        r#""total_power_import_t2_kwh":1528.646,"total_power_export_kwh":0.058,"#,
        r#""total_power_export_t1_kwh":0.000,"total_power_export_t2_kwh":0.058,"#,
        r#""active_power_w":286}"#,
    );
    assert_eq!(got, want);
}

#[test]
fn swedish_without_id_or_version() {
    let got = data(include_bytes!("../../tests/data/sweden_aidon_6534.txt"));
    let want = concat!(
        r#""meter_model":"ADN9 6534","total_power_import_kwh":7805.332,"#,
        r#""total_power_import_t1_kwh":7805.332,"total_power_export_kwh":0.000,"#,
        r#""total_power_export_t1_kwh":0.000,"active_power_w":870,"active_power_l1_w":269,"#,
        r#""active_power_l2_w":526,"active_power_l3_w":60,"active_voltage_l1_v":234.7,"#,
        r#""active_voltage_l2_v":234.6,"active_voltage_l3_v":234.5,"#,
        r#""active_current_l1_a":1.6,"active_current_l2_a":2.3,"active_current_l3_a":0.4}"#,
    );
    assert_eq!(got, want);
}

#[test]
fn dsmr22_gas_without_season() {
    let got = data(include_bytes!(
        "../../tests/data/dsmr22_iskra_mt382-1003.txt"
    ));
    let want = concat!(
        r#""meter_model":"ISk5\\2MT382-1003","unique_id":"5A424556303035313036383434393132","#,
        r#""active_tariff":2,"total_power_import_kwh":36123.160,"#,
        r#""total_power_import_t1_kwh":16719.940,"total_power_import_t2_kwh":19403.220,"#,
        r#""total_power_export_kwh":2676.738,"total_power_export_t1_kwh":859.681,"#,
        r#""total_power_export_t2_kwh":1817.057,"active_power_w":890,"#,
        r#""total_gas_m3":13368.864,"gas_timestamp":211122210000,"#,
        r#""gas_unique_id":"3238303131303038333036343239303133","external":["#,
        r#"{"unique_id":"3238303131303038333036343239303133","type":"gas_meter","#,
        r#""timestamp":211122210000,"value":13368.864,"unit":"m3"}]}"#,
    );
    assert_eq!(got, want);
}

#[test]
fn absent_and_odd_values() {
    // Only returned power; a peak in a month without one (Fluvius's
    // `632525252525W`); a voltage in a unit that is no voltage; a water
    // meter without an id: each left out, never made up.
    let got = data(
        b"/FLU5\\x\r\n\r\n1-0:2.7.0(01.500*kW)\r\n1-0:1.6.0(632525252525W)(00.000*kW)\r\n\
          1-0:32.7.0(230*A)\r\n0-1:24.1.0(007)\r\n0-1:24.2.1(200512134558S)(00001.000*m3)\r\n!\r\n",
    );
    assert_eq!(
        got,
        r#""meter_model":"FLU5\\x","active_power_w":-1500,"montly_power_peak_w":0}"#
    );
    assert_eq!(
        json(&Reading::parse(b"")),
        r#"{"wifi_ssid":"p1mux (wired)","wifi_strength":100}"#
    );
}
