//! p1mux publishing to a real mosquitto: values, discovery, availability,
//! a broker that dies mid-stream, a wrong password, TLS, Home Assistant's
//! broker named by a fake Supervisor ([`supervisor`]); and attacked:
//! mosquitto flooded with Home Assistant's "online" ([`flood`]), and fake
//! brokers inside the test that flood, drop, trickle or send garbage
//! ([`hostile`], [`fake`]), with the raw TCP clients as the judge ([`judge`]).
//!
//! Needs Debian's mosquitto and mosquitto-clients (and openssl for TLS);
//! without them `cargo test` lists these tests as ignored, and with
//! P1MUX_REQUIRE_ALL=1 (CI) they fail.

#[path = "mqtt/broker.rs"]
mod broker;
#[path = "mqtt/checks.rs"]
mod checks;
mod common;
#[path = "mqtt/fake.rs"]
mod fake;
#[path = "mqtt/flood.rs"]
mod flood;
#[path = "mqtt/hostile.rs"]
mod hostile;
#[path = "mqtt/judge.rs"]
mod judge;
#[path = "mqtt/outage.rs"]
mod outage;
#[path = "mqtt/supervisor.rs"]
mod supervisor;

use std::path::PathBuf;
use std::process::ExitCode;

use broker::{Sub, Tools};
use common::external::{Tool, needs, plain, run};
use common::*;

static MOSQUITTO: Tool<Tools> = Tool::new(
    "mosquitto (the MQTT broker) and mosquitto-clients",
    "P1MUX_REQUIRE_MOSQUITTO",
    "apt-get install mosquitto mosquitto-clients",
    broker::find_mosquitto,
);

static MOSQUITTO_TLS: Tool<(Tools, PathBuf)> = Tool::new(
    "mosquitto, mosquitto-clients and openssl",
    "P1MUX_REQUIRE_MOSQUITTO",
    "apt-get install mosquitto mosquitto-clients openssl",
    broker::find_mosquitto_and_openssl,
);

const DSMR22: &[u8] = include_bytes!("data/dsmr22_iskra_mt382-1003.txt");
const DSMR42: &[u8] = include_bytes!("data/dsmr42_kaifa_ma105.txt");
const DSMR50: &[u8] = include_bytes!("data/dsmr50_iskra_am550_2mbus.txt");
const BELGIUM: &[u8] = include_bytes!("data/belgium_fluvius_emucs171_gas_water.txt");
/// The equipment id of DSMR50, decoded: its topics' level.
const DSMR50_ID: &str = "E0044007382246019";

fn main() -> ExitCode {
    run(vec![
        needs(
            &MOSQUITTO,
            "state_is_the_telegram_text_for_each_dsmr_variant",
            state_is_the_telegram_text,
        ),
        needs(
            &MOSQUITTO,
            "discovery_is_retained_well_formed_and_resent_for_home_assistant",
            discovery,
        ),
        needs(
            &MOSQUITTO,
            "availability_online_offline_and_the_last_will",
            availability,
        ),
        needs(
            &MOSQUITTO,
            "interval_thins_publishing_not_the_tcp_clients",
            interval,
        ),
        needs(
            &MOSQUITTO,
            "broker_killed_mid_stream_qos1_telegrams_arrive_after",
            outage::broker_killed_mid_stream,
        ),
        needs(
            &MOSQUITTO,
            "wrong_password_is_one_clear_line_and_retried",
            outage::wrong_password,
        ),
        needs(
            &MOSQUITTO_TLS,
            "tls_to_mosquitto_with_a_test_ca",
            outage::tls,
        ),
        plain("no_broker_never_delays_the_tcp_clients", outage::no_broker),
        needs(
            &MOSQUITTO,
            "mqtt_homeassistant_publishes_with_the_supervisors_login",
            supervisor::publishes_with_the_supervisors_login,
        ),
        plain(
            "mqtt_homeassistant_says_what_to_do_without_a_broker",
            supervisor::says_what_to_do_without_a_broker,
        ),
        needs(
            &MOSQUITTO,
            "home_assistant_status_flood_is_coalesced_and_bounded",
            flood::status_flood,
        ),
        plain(
            "huge_publish_is_refused_while_reading",
            hostile::huge_publish_is_refused_while_reading,
        ),
        plain(
            "endless_publishes_are_read_within_a_budget",
            hostile::endless_publishes_are_read_within_a_budget,
        ),
        plain(
            "broker_that_accepts_and_drops_backs_off",
            hostile::accept_and_drop_backs_off,
        ),
        plain(
            "broker_that_sends_garbage_backs_off",
            hostile::garbage_after_connack_backs_off,
        ),
        plain(
            "trickling_broker_is_found_dead",
            hostile::trickling_broker_is_found_dead,
        ),
    ])
}

/// p1mux on a fresh pty, publishing to `port`; waits until the port is
/// open and the broker accepted the connection.
pub fn start(port: u16, extra: &[&str]) -> (P1mux, Pty, u16) {
    let pty = Pty::open();
    let device = pty.slave_path.to_str().unwrap().to_string();
    let url = format!("mqtt://127.0.0.1:{port}");
    let mut args = vec![
        "--device",
        &device,
        "--baud",
        "115200",
        "--framing",
        "8n1",
        "--mqtt",
        &url,
    ];
    args.extend_from_slice(extra);
    let p1mux = P1mux::serve(&args);
    let tcp = p1mux.port();
    p1mux.wait_for(&format!("opened {device}"));
    p1mux.wait_for("mqtt: connected to");
    (p1mux, pty, tcp)
}

fn state_is_the_telegram_text(tools: &Tools) {
    let dir = TempDir::new("mqtt-values");
    let broker = broker::mosquitto(tools, &dir.0, "");
    for (name, sample, id) in [
        ("DSMR 2.2", DSMR22, "ZBEV005106844912"),
        ("DSMR 4.2", DSMR42, "3960221976967177082151037881335713"),
        ("DSMR 5.0", DSMR50, DSMR50_ID),
        ("Belgian e-MUCS", BELGIUM, "1SAG3101021605"),
    ] {
        let sub = Sub::start(tools, broker.port, &["p1mux/#"], &[]);
        let (p1mux, mut pty, _) = start(broker.port, &["--no-mqtt-discovery"]);
        pty.write(sample);
        let raw = sub.next(&format!("p1mux/{id}/telegram"));
        assert!(
            raw.payload == sample,
            "{name}: the telegram topic has other bytes"
        );
        let state = sub.next(&format!("p1mux/{id}/state"));
        let checked = checks::state_matches(sample, &state.json());
        assert!(checked >= 10, "{name}: only {checked} values");
        drop(p1mux);
    }
}

fn discovery(tools: &Tools) {
    let dir = TempDir::new("mqtt-discovery");
    let broker = broker::mosquitto(tools, &dir.0, "");
    let sub = Sub::start(tools, broker.port, &["p1mux/+/state"], &[]);
    let (p1mux, mut pty, _) = start(broker.port, &[]);
    pty.write(DSMR50);
    let state = sub.next(&format!("p1mux/{DSMR50_ID}/state")).json();
    p1mux.wait_for("announced the meter to Home Assistant");
    // A subscriber that comes later gets the config retained.
    let ha = Sub::start(tools, broker.port, &["homeassistant/#"], &[]);
    let topic = format!("homeassistant/device/p1mux_{DSMR50_ID}/config");
    let config = ha.next(&topic);
    assert!(config.retain, "discovery must be retained");
    checks::discovery_is_well_formed(&config.json(), DSMR50_ID, &state, "/ISK5\\2M550T-1012");
    // Issue 18: the maker by name, p1mux's version, the tariff by name.
    let json = config.json();
    assert_eq!(json["device"]["manufacturer"], "Iskra");
    let sw = format!("p1mux {}", env!("CARGO_PKG_VERSION"));
    assert_eq!(json["device"]["sw_version"], sw.as_str());
    assert_eq!(json["components"]["tariff"]["options"][1], "normal");
    // Home Assistant restarts: its birth message brings the config again.
    broker::publish(tools, broker.port, "homeassistant/status", "online");
    let again = ha.next(&topic);
    assert!(!again.retain, "sent anew, not the stored copy");
    assert_eq!(again.json(), config.json());
}

fn availability(tools: &Tools) {
    let dir = TempDir::new("mqtt-availability");
    let broker = broker::mosquitto(tools, &dir.0, "");
    let topic = "p1mux/kitchen/availability";
    let sub = Sub::start(tools, broker.port, &[topic], &[]);
    // With --mqtt-id the will is there from the first connection.
    let (mut p1mux, _pty, _) = start(broker.port, &["--mqtt-id", "kitchen"]);
    assert_eq!(sub.next(topic).text(), "online");
    p1mux.signal(libc::SIGTERM);
    let (code, log) = p1mux.finish();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("disconnecting from mqtt://127.0.0.1"), "{log}");
    assert_eq!(sub.next(topic).text(), "offline", "said on a clean exit");
    // Killed: the broker's last will says it.
    let (p1mux, _pty, _) = start(broker.port, &["--mqtt-id", "kitchen"]);
    assert_eq!(sub.next(topic).text(), "online");
    p1mux.signal(libc::SIGKILL);
    assert_eq!(sub.next(topic).text(), "offline", "the last will");
    let later = Sub::start(tools, broker.port, &[topic], &[]);
    let stored = later.next(topic);
    assert!(stored.retain && stored.text() == "offline", "{stored:?}");
    // Without --mqtt-id, the will follows the meter's id.
    let meter = format!("p1mux/{DSMR50_ID}/availability");
    let sub = Sub::start(tools, broker.port, &[&meter], &[]);
    let (p1mux, mut pty, _) = start(broker.port, &[]);
    pty.write(DSMR50);
    assert_eq!(sub.next(&meter).text(), "online");
    p1mux.wait_for("reconnecting with a last will");
    p1mux.signal(libc::SIGKILL);
    assert_eq!(
        sub.next(&meter).text(),
        "offline",
        "the last will names the meter"
    );
}

fn interval(tools: &Tools) {
    let dir = TempDir::new("mqtt-interval");
    let broker = broker::mosquitto(tools, &dir.0, "");
    let topic = "p1mux/m/telegram";
    let sub = Sub::start(tools, broker.port, &[topic], &[]);
    let (p1mux, mut pty, tcp) = start(broker.port, &["--mqtt-id", "m", "--mqtt-interval", "3600"]);
    let mut client = p1mux.connect(tcp);
    for _ in 0..3 {
        pty.write(DSMR50);
        assert_eq!(read_exact(&mut client, DSMR50.len()), DSMR50);
    }
    assert_eq!(sub.next(topic).payload, DSMR50);
    // Every telegram reached the output before the client read it.
    p1mux.signal(libc::SIGUSR1);
    let stats = p1mux.wait_for("stats:");
    assert!(
        stats.contains("published 2, queued 0, dropped 0"),
        "one telegram and its state: {stats}"
    );
}
