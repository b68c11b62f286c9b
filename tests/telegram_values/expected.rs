//! Each sample's values, read off its text by hand.

use p1mux::telegram::{Data, Reading, Value, catalog::StateClass};

use crate::sample;

/// The value of `key`: its number as text (the meter's digits), unit, time.
fn got<'a>(r: &'a Reading, key: &str) -> &'a Value {
    r.get(key).unwrap_or_else(|| {
        let keys: Vec<&str> = r.values.iter().map(|v| v.key.as_str()).collect();
        panic!("no {key} in {keys:?}")
    })
}

fn num(r: &Reading, key: &str) -> (String, Option<String>) {
    match &got(r, key).data {
        Data::Number(n) => (n.text.clone(), got(r, key).unit.clone()),
        other => panic!("{key} is {other:?}"),
    }
}

fn is(r: &Reading, key: &str, text: &str, unit: Option<&str>) {
    assert_eq!(
        num(r, key),
        (text.to_string(), unit.map(str::to_string)),
        "{key}"
    );
}

fn time(v: &Value) -> Option<String> {
    v.time.as_ref().and_then(|t| t.iso8601())
}

fn absent(r: &Reading, keys: &[&str]) {
    for k in keys {
        assert!(r.get(k).is_none(), "{k} was not sent: {:?}", r.get(k));
    }
}

#[test]
fn dsmr22_gas_on_the_next_line() {
    let r = sample("dsmr22_iskra_mt382-1003.txt");
    assert_eq!(r.meter.manufacturer.as_deref(), Some("ISk"));
    assert_eq!((r.version(), r.time.clone()), (None, None));
    assert_eq!(r.equipment_id(), Some("ZBEV005106844912"));
    is(&r, "energy_delivered_tariff1", "16719.940", Some("kWh"));
    is(&r, "energy_delivered_tariff2", "19403.220", Some("kWh"));
    is(&r, "energy_returned_tariff1", "00859.681", Some("kWh"));
    is(&r, "energy_returned_tariff2", "01817.057", Some("kWh"));
    is(&r, "power_delivered", "0000.89", Some("kW"));
    is(&r, "power_threshold", "0999.00", Some("kW"));
    assert_eq!(got(&r, "tariff").number(), Some(2.0));
    let gas = got(&r, "gas_delivered");
    assert_eq!(
        num(&r, "gas_delivered"),
        ("13368.864".into(), Some("m3".into()))
    );
    assert_eq!(
        (gas.channel, gas.obis.to_string().as_str()),
        (Some(2), "0-2:24.3.0")
    );
    // No W/S: local time, no offset made up.
    assert_eq!(time(gas).as_deref(), Some("2021-11-22T21:00:00"));
    assert_eq!(gas.time.as_ref().unwrap().unix(), None);
    assert_eq!(r.mbus[0].equipment_id.as_deref(), Some("28011008306429013"));
    assert_eq!(got(&r, "gas_valve").number(), Some(1.0));
    assert_eq!(got(&r, "text_message").text(), Some(""));
    absent(
        &r,
        &[
            "energy_delivered",
            "voltage_l1",
            "power_failures",
            "current_l1",
        ],
    );
}

#[test]
fn dsmr30_text_messages_and_threshold_in_amperes() {
    let r = sample("dsmr30_iskra_mt382-1000_spec_textmsg.txt");
    assert_eq!(r.equipment_id(), Some("K8EG004046395507"));
    is(&r, "power_threshold", "016", Some("A"));
    assert_eq!(got(&r, "text_message_code").text(), Some("012345678"));
    assert_eq!(
        got(&r, "text_message").text(),
        Some("0123456789:;<=>?".repeat(5).as_str())
    );
    is(&r, "gas_delivered", "00001.001", Some("m3"));
    assert_eq!(
        time(got(&r, "gas_delivered")).as_deref(),
        Some("2009-02-12T16:00:00")
    );
}

#[test]
fn dsmr40_keeps_the_specifications_typos_as_unknown_lines() {
    let r = sample("dsmr40_iskra_spec_textmsg.txt");
    assert_eq!(r.version().as_deref(), Some("DSMR 4.0"));
    let t = r.time.as_ref().unwrap();
    assert_eq!(
        (t.rfc3339().as_deref(), t.unix()),
        (Some("2010-12-09T11:30:20+01:00"), Some(1_291_890_620))
    );
    is(&r, "power_threshold", "016.1", Some("kW"));
    is(&r, "power_failures", "00004", None);
    is(&r, "power_failures_long", "00002", None);
    is(&r, "voltage_sags_l2", "00001", None);
    is(&r, "voltage_swells_l2", "00003", None);
    assert_eq!(got(&r, "text_message_code").text(), Some("01 61 81"));
    // `1-0:99:97.0` and `1-0:72:32.0` are no OBIS ids: kept, not guessed.
    absent(&r, &["power_failure_log", "voltage_sags_l3"]);
    for id in ["1-0:99:97.0", "1-0:72:32.0"] {
        let line = r.lines.iter().find(|l| l.id == id).expect(id);
        assert!(!line.known && line.obis.is_none() && !line.fields.is_empty());
    }
    is(&r, "gas_delivered", "12785.123", Some("m3"));
    assert_eq!(
        time(got(&r, "gas_delivered")).as_deref(),
        Some("2010-12-09T11:00:00+01:00")
    );
}

#[test]
fn dsmr42_kaifa_per_phase_and_failure_log() {
    let r = sample("dsmr42_kaifa_ma105.txt");
    // Not hex ASCII of text (0x19, 0x96...): shown as sent.
    assert_eq!(r.equipment_id(), Some("3960221976967177082151037881335713"));
    is(&r, "current_l2", "006", Some("A"));
    is(&r, "power_delivered_l2", "01.247", Some("kW"));
    is(&r, "power_returned_l3", "00.000", Some("kW"));
    let Data::Events(log) = &got(&r, "power_failure_log").data else {
        panic!()
    };
    assert_eq!(log.len(), 3);
    assert_eq!(
        (log[0].end.raw.as_str(), log[0].duration.text.as_str()),
        ("000104180320W", "0000237126")
    );
    assert_eq!(log[2].unit.as_deref(), Some("s"));
    is(&r, "gas_delivered", "00981.443", Some("m3"));
    absent(&r, &["voltage_l1"]);
}

#[test]
fn dsmr42_single_phase_meter_sends_only_l1() {
    let r = sample("dsmr42_landisgyr_e350.txt");
    assert_eq!(r.equipment_id(), Some("E0031003239456716"));
    is(&r, "current_l1", "002", Some("A"));
    is(&r, "power_delivered_l1", "00.374", Some("kW"));
    absent(&r, &["current_l2", "power_delivered_l3", "voltage_sags_l2"]);
    assert_eq!(
        time(got(&r, "gas_delivered")).as_deref(),
        Some("2019-09-05T21:00:00+02:00")
    );
}

#[test]
fn dsmr50_vacant_channel_publishes_no_zero() {
    let r = sample("dsmr50_iskra_am550_2mbus.txt");
    assert_eq!(r.meter.ident, "\\2M550T-1012");
    is(&r, "voltage_l1", "229.9", Some("V"));
    is(&r, "voltage_l3", "222.9", Some("V"));
    is(&r, "voltage_sags_l3", "00192", None);
    assert_eq!(got(&r, "tariff").number(), Some(1.0));
    let (vacant, gas) = (&r.mbus[0], &r.mbus[1]);
    assert!(vacant.vacant && vacant.equipment_id.is_none() && vacant.channel == 1);
    assert!(!gas.vacant && gas.device_type == Some(3));
    assert_eq!(gas.equipment_id.as_deref(), Some("G0039001936990619"));
    // Channel 1's `(00000000)` is no reading: the gas meter on channel 2
    // gets the plain key.
    is(&r, "gas_delivered", "00246.138", Some("m3"));
    assert_eq!(got(&r, "gas_delivered").channel, Some(2));
    assert_eq!(
        time(got(&r, "gas_delivered")).as_deref(),
        Some("2020-04-26T22:30:01+02:00")
    );
    assert!(r.values.iter().all(|v| v.obis.to_string() != "0-1:24.2.1"));
}

#[test]
fn dsmr50_ten_power_failures() {
    let r = sample("dsmr50_sagemcom_cx2000_pfl10.txt");
    let Data::Events(log) = &got(&r, "power_failure_log").data else {
        panic!()
    };
    assert_eq!(log.len(), 10);
    assert_eq!(
        log[0].end.rfc3339().as_deref(),
        Some("2018-12-01T03:08:14+01:00")
    );
    assert_eq!(log[0].duration.value, 758_635.0);
    assert_eq!(log[9].end.raw, "180208200717W");
    is(&r, "power_failures", "00933", None);
    assert!(r.mbus.is_empty());
    absent(&r, &["gas_delivered"]);
}

#[test]
fn belgium_fluvius_gas_water_and_demand() {
    let r = sample("belgium_fluvius_emucs171_gas_water.txt");
    assert_eq!(r.meter.manufacturer.as_deref(), Some("FLU"));
    assert_eq!(r.version().as_deref(), Some("DSMR 5.0.2, e-MUCS 1.7"));
    // 0-0:96.1.4 is the version; the equipment id is 0-0:96.1.1.
    assert_eq!(r.equipment_id(), Some("1SAG3101021605"));
    is(&r, "energy_delivered_tariff2", "000015.758", Some("kWh"));
    is(&r, "power_delivered_average", "02.351", Some("kW"));
    is(&r, "power_delivered_peak_month", "02.589", Some("kW"));
    let peak = got(&r, "power_delivered_peak_month");
    assert_eq!(time(peak).as_deref(), Some("2020-05-09T13:45:58+02:00"));
    is(&r, "fuse_threshold_l1", "999", Some("A"));
    is(&r, "current_l3", "000.00", Some("A"));
    let history = r.lines.iter().find(|l| l.id == "0-0:98.1.0").unwrap();
    assert_eq!(history.fields.len(), 12, "kept as sent");
    is(&r, "gas_delivered", "00112.384", Some("m3"));
    assert_eq!(got(&r, "gas_delivered").obis.to_string(), "0-1:24.2.3");
    is(&r, "water_delivered", "00872.234", Some("m3"));
    assert_eq!(got(&r, "water_delivered").channel, Some(2));
    assert_eq!(
        got(&r, "water_delivered")
            .spec
            .device_class
            .map(|c| c.as_str()),
        Some("water")
    );
    assert_eq!(r.mbus[0].equipment_id.as_deref(), Some("7FLO2119033733"));
    assert_eq!(r.mbus[1].equipment_id.as_deref(), Some("8SAG1234567890"));
    assert_eq!(r.mbus[1].device_type, Some(7));
    assert_eq!(got(&r, "gas_valve").number(), Some(1.0));
}

#[test]
fn luxembourg_totals_without_tariffs() {
    let r = sample("luxembourg_smarty_plaintext.txt");
    assert_eq!(r.equipment_id(), Some("SAG1030700012701"));
    assert_eq!(
        r.meter.equipment_id.as_ref().unwrap().obis.to_string(),
        "0-0:42.0.0"
    );
    is(&r, "energy_delivered", "000273.764", Some("kWh"));
    is(&r, "energy_returned", "112743.030", Some("kWh"));
    is(&r, "reactive_energy_delivered", "000462.590", Some("kvarh"));
    is(&r, "reactive_energy_returned", "007109.230", Some("kvarh"));
    is(&r, "reactive_power_returned", "00.154", Some("kvar"));
    is(&r, "reactive_power_returned_l2", "00.065", Some("kvar"));
    is(&r, "apparent_power_returned", "00.913", Some("kVA"));
    is(&r, "power_threshold", "027.6", Some("kVA"));
    is(&r, "power_returned_l1", "00.319", Some("kW"));
    is(&r, "power_failures", "01067", None);
    is(&r, "gas_delivered", "14239.771", Some("m3"));
    absent(
        &r,
        &[
            "energy_delivered_tariff1",
            "power_failures_long",
            "power_failure_log",
        ],
    );
    let total = got(&r, "energy_delivered").spec;
    assert_eq!(total.state_class, Some(StateClass::TotalIncreasing));
    for unknown in ["1-1:31.4.0", "0-1:96.3.10", "0-0:96.13.2"] {
        assert!(
            !r.lines.iter().find(|l| l.id == unknown).unwrap().known,
            "{unknown}"
        );
    }
}

#[test]
fn sweden_has_no_equipment_id() {
    let r = sample("sweden_aidon_6534.txt");
    assert_eq!((r.equipment_id(), r.version()), (None, None));
    assert_eq!(r.default_id().as_deref(), Some("ADN9_6534"));
    assert_eq!(
        r.time.as_ref().unwrap().rfc3339().as_deref(),
        Some("2024-02-17T17:40:50+01:00")
    );
    is(&r, "energy_delivered", "00007805.332", Some("kWh"));
    is(
        &r,
        "reactive_energy_returned",
        "00001945.988",
        Some("kVArh"),
    );
    assert_eq!(
        got(&r, "reactive_energy_returned").number_in("kvarh"),
        Some(1945.988)
    );
    is(&r, "reactive_power_returned_l1", "0000.277", Some("kVAr"));
    is(&r, "voltage_l3", "234.5", Some("V"));
    is(&r, "current_l2", "002.3", Some("A"));
    absent(&r, &["energy_delivered_tariff1", "tariff", "gas_delivered"]);
    let other = sample("sweden_aidon_6534_reactive.txt");
    is(
        &other,
        "reactive_energy_delivered",
        "00003137.803",
        Some("kVArh"),
    );
}

#[test]
fn austria_sends_watt_hours() {
    let r = sample("austria_sagemcom_t210dr.txt");
    assert_eq!(r.meter.manufacturer.as_deref(), Some("EST"));
    assert_eq!(r.version().as_deref(), Some("DSMR 5.0"));
    assert_eq!(r.equipment_id(), None);
    is(&r, "energy_delivered", "006545766", Some("Wh"));
    is(&r, "energy_delivered_tariff1", "005017120", Some("Wh"));
    is(&r, "power_delivered", "000000286", Some("W"));
    is(
        &r,
        "reactive_energy_returned_tariff2",
        "001204878",
        Some("varh"),
    );
    let total = got(&r, "energy_delivered");
    assert_eq!(total.number_in("kWh"), Some(6545.766));
    assert_eq!(total.number_in(total.spec.unit.unwrap()), Some(6545.766));
    assert_eq!(got(&r, "power_delivered").number_in("kW"), Some(0.286));
    assert_eq!(total.number_in("V"), None, "unrelated units");
    assert_eq!(total.name, "Energy delivered");
    assert_eq!(
        got(&r, "energy_delivered_tariff1").name,
        "Energy delivered, tariff 1"
    );
}

#[test]
fn heat_meter_in_gigajoules() {
    let r = sample("heat_warmtelink_gj.txt");
    assert_eq!(r.equipment_id(), Some("ADB3100000043021"));
    is(&r, "heat_delivered", "46.720", Some("GJ"));
    let heat = got(&r, "heat_delivered");
    assert_eq!(heat.spec.device_class.map(|c| c.as_str()), Some("energy"));
    assert_eq!(time(heat).as_deref(), Some("2022-02-08T23:10:51+01:00"));
    assert_eq!(r.mbus[0].device_type, Some(4));
    absent(&r, &["gas_delivered", "energy_delivered_tariff1"]);
}

/// Iskra AM550E telegrams seen without `0-2:24.1.0`: the unit decides.
#[test]
fn a_channel_without_device_type_reading_m3_is_gas() {
    let r = crate::check(
        b"/ISK5\\2M550E-1012\r\n\r\n0-1:24.1.0(003)\r\n0-1:96.1.0()\r\n\
0-1:24.2.1(700101010000W)(00000000)\r\n0-2:96.1.0(4730303339303031383433313135303138)\r\n\
0-2:24.2.1(201022191006S)(00847.336*m3)\r\n0-3:24.1.0(007)\r\n0-3:24.2.1(201022191006S)(00012.000*m3)\r\n\
0-4:24.1.0(003)\r\n0-4:24.2.1(201022191006S)(00001.000*m3)\r\n!465C\r\n",
    );
    assert_eq!(
        (r.mbus[1].device_type, r.mbus[1].kind),
        (None, p1mux::telegram::mbus::Kind::Gas)
    );
    is(&r, "gas_delivered", "00847.336", Some("m3"));
    is(&r, "water_delivered", "00012.000", Some("m3"));
    // A second gas meter gets its channel in the key.
    is(&r, "gas_delivered_ch4", "00001.000", Some("m3"));
    assert_eq!(
        got(&r, "gas_delivered_ch4").name,
        "Gas delivered, channel 4"
    );
}
