use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use super::*;
use crate::config::{ConfigError, Parsed, Usage, parse};
use crate::mqtt::config::{Broker, MqttConfigError, MqttSetup};

/// The Mosquitto add-on's answer, as the Supervisor gives it.
const MOSQUITTO: &str = r#"{"result": "ok", "data": {"host": "core-mosquitto", "port": 1883,
  "ssl": false, "protocol": "3.1.1", "username": "addons",
  "password": "Ohf6ieZae5ahf4eiph4w", "addon": "core_mosquitto"}}"#;

fn answer(body: &str) -> Result<Answer, SupervisorError> {
    parse_answer(200, body.as_bytes())
}

#[test]
fn the_mosquitto_add_ons_answer() {
    let a = answer(MOSQUITTO).unwrap();
    assert_eq!(
        a,
        Answer {
            host: "core-mosquitto".into(),
            port: 1883,
            ssl: false,
            username: Some("addons".into()),
            password: Some(Password(b"Ohf6ieZae5ahf4eiph4w".to_vec())),
        }
    );
    assert_eq!(a.url(), "mqtt://addons@core-mosquitto:1883");
    assert!(
        !format!("{a:?}").contains("Ohf6"),
        "the password stays out of Debug"
    );
    // TLS, IPv6, no login, the port as text.
    let b =
        answer(r#"{"result":"ok","data":{"host":"fd00::5","port":"8883","ssl":true}}"#).unwrap();
    assert_eq!(
        (b.url(), b.password),
        ("mqtts://[fd00::5]:8883".into(), None)
    );
}

#[test]
fn the_answer_makes_the_settings_of_the_url_and_password() {
    let options = MqttOptions {
        url: Some("homeassistant".into()),
        topic: Some("site/flat-3".into()),
        qos: Some(1),
        ..MqttOptions::default()
    };
    let config = answer(MOSQUITTO).unwrap().config(&options).unwrap();
    let by_hand = MqttOptions {
        url: Some("mqtt://addons@core-mosquitto:1883".into()),
        password: Some(Password(b"Ohf6ieZae5ahf4eiph4w".to_vec())),
        ..options
    };
    assert_eq!(
        config,
        MqttConfig::from_options_with(&by_hand, None)
            .unwrap()
            .unwrap()
    );
    assert_eq!(
        config.broker,
        Broker {
            host: "core-mosquitto".into(),
            port: 1883,
            tls: false,
            user: Some("addons".into())
        }
    );
    assert_eq!(
        config.password().unwrap().unwrap().0,
        b"Ohf6ieZae5ahf4eiph4w"
    );
    assert_eq!(config.prefix, "site/flat-3");
    // A password without a user is not sent (MQTT 3.1.1 cannot).
    let lone = answer(r#"{"result":"ok","data":{"host":"h","port":1883,"password":"x"}}"#).unwrap();
    assert_eq!(lone.config(&MqttOptions::default()).unwrap().password, None);
    // A CA for a broker without TLS: the usual mistake, said as such.
    let with_ca = MqttOptions {
        ca: Some("/ca.pem".into()),
        ..MqttOptions::default()
    };
    assert!(matches!(
        answer(MOSQUITTO).unwrap().config(&with_ca),
        Err(SupervisorError::Unusable(
            MqttConfigError::CaWithoutTls { .. }
        ))
    ));
}

#[test]
fn answers_that_name_no_broker() {
    // No Mosquitto: what the Supervisor says (HTTP 400), with the fix.
    let e = parse_answer(
        400,
        br#"{"result": "error", "message": "Service not enabled", "data": {}}"#,
    )
    .unwrap_err();
    assert_eq!(
        e,
        SupervisorError::NoService {
            message: "Service not enabled".into()
        }
    );
    let text = e.to_string();
    assert!(
        text.contains("install the Mosquitto broker add-on"),
        "{text}"
    );
    assert!(text.contains("or give --mqtt mqtt://"), "{text}");
    // No `services: [mqtt:want]` in config.yaml, or a token not taken.
    for status in [401, 403] {
        let e = parse_answer(
            status,
            br#"{"result":"error","message":"No access to mqtt service!"}"#,
        )
        .unwrap_err();
        assert!(matches!(e, SupervisorError::Refused { .. }), "{e:?}");
        assert!(e.to_string().contains("mqtt:want"), "{e}");
    }
    let e = parse_answer(502, b"<html>bad gateway</html>").unwrap_err();
    assert!(e.to_string().contains("HTTP 502"), "{e}");
    for (body, why) in [
        ("", "not a JSON object"),
        ("[1]", "not a JSON object"),
        (r#"{"result":"error","message":"boom"}"#, "boom"),
        (r#"{"result":"ok","data":{"port":1883}}"#, "no \"host\""),
        (r#"{"result":"ok","data":{"host":"h"}}"#, "\"port\""),
        (
            r#"{"result":"ok","data":{"host":"h","port":70000}}"#,
            "\"port\"",
        ),
        (
            r#"{"result":"ok","data":{"host":"h","port":0}}"#,
            "\"port\"",
        ),
        (
            r#"{"result":"ok","data":{"host":"h","port":1,"ssl":"yes"}}"#,
            "ssl",
        ),
        (r#"{"result":"ok","data":[]}"#, "not an object"),
    ] {
        match answer(body) {
            Err(SupervisorError::BadAnswer { why: got }) => {
                assert!(got.contains(why), "{body}: {got}")
            }
            other => panic!("{body}: {other:?}"),
        }
    }
    assert!(matches!(
        answer(r#"{"result":"ok","data":null}"#),
        Err(SupervisorError::NoService { .. })
    ));
    // A host the URL parser refuses: unusable, not a panic.
    assert!(matches!(
        answer(r#"{"result":"ok","data":{"host":"a b","port":1}}"#)
            .unwrap()
            .config(&MqttOptions::default()),
        Err(SupervisorError::Unusable(_))
    ));
}

#[test]
fn outside_an_add_on() {
    let options = MqttOptions::default();
    let ask = |token, url| broker_with(&options, token, url, Duration::ZERO).unwrap_err();
    let e = ask(None, None);
    assert_eq!(e, SupervisorError::NoToken);
    assert!(
        e.to_string()
            .contains("only inside a Home Assistant add-on"),
        "{e}"
    );
    assert!(e.to_string().contains("--mqtt mqtt://"), "{e}");
    assert_eq!(ask(Some(""), None), SupervisorError::BadToken);
    assert_eq!(ask(Some("a\r\nX: y"), None), SupervisorError::BadToken);
    assert!(matches!(
        ask(Some("t"), Some("https://supervisor")),
        SupervisorError::BadUrl(_)
    ));
    // Nobody listening: retried until the patience is spent, then said.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let e = ask(Some("t"), Some(&url));
    assert!(matches!(e, SupervisorError::Unreachable { .. }), "{e:?}");
    assert!(e.to_string().contains("did not answer"), "{e}");
}

#[test]
fn asks_with_the_token_and_reads_a_chunked_answer() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut request = Vec::new();
        let mut buf = [0; 1024];
        while !request.ends_with(b"\r\n\r\n") {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "the request ended early");
            request.extend_from_slice(&buf[..n]);
        }
        let (head, tail) = MOSQUITTO.split_at(40);
        let body = format!(
            "{:x}\r\n{head}\r\n{:x}\r\n{tail}\r\n0\r\n\r\n",
            40,
            tail.len()
        );
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\n\r\n{body}"
        );
        stream.write_all(answer.as_bytes()).unwrap();
        String::from_utf8(request).unwrap()
    });
    let config = broker_with(
        &MqttOptions::default(),
        Some("abc123"),
        Some(&url),
        Duration::ZERO,
    )
    .unwrap();
    assert_eq!(config.broker.host, "core-mosquitto");
    let request = server.join().unwrap();
    assert!(
        request.starts_with("GET /services/mqtt HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(
        request.contains("\r\nAuthorization: Bearer abc123\r\n"),
        "{request}"
    );
}

#[test]
fn responses() {
    let whole = |raw: &[u8]| http::parse_response(raw, true);
    let r = whole(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}xx")
        .unwrap()
        .unwrap();
    assert_eq!((r.status, &r.body[..]), (400, &b"{}"[..]));
    let r = whole(b"HTTP/1.0 200 OK\r\n\r\n{\"a\":1}").unwrap().unwrap();
    assert_eq!(r.body, b"{\"a\":1}");
    for bad in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}"[..],
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        b"HTTP/1.1 200",
        b"SSH-2.0-OpenSSH\r\n",
    ] {
        assert!(whole(bad).is_err(), "{bad:?}");
    }
    // Before the end: whole by its length, or more to come.
    let part = |raw: &[u8]| http::parse_response(raw, false).unwrap().is_some();
    assert!(part(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"));
    assert!(!part(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{"));
    assert!(!part(b"HTTP/1.1 200 OK\r\nContent-Le"));
    assert!(!part(b"HTTP/1.1 200 OK\r\n\r\n{}"));
    assert!(!part(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n"
    ));
    assert!(part(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
    ));
}

#[test]
fn a_connection_kept_open_is_not_waited_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0; 1024];
        let _ = stream.read(&mut buf).unwrap();
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{MOSQUITTO}",
            MOSQUITTO.len()
        );
        stream.write_all(answer.as_bytes()).unwrap();
        // Open until p1mux has its answer (or gives up).
        let _ = wait.recv_timeout(Duration::from_secs(30));
    });
    let started = std::time::Instant::now();
    let got = broker_with(
        &MqttOptions::default(),
        Some("t"),
        Some(&url),
        Duration::ZERO,
    );
    done.send(()).unwrap();
    server.join().unwrap();
    assert_eq!(got.unwrap().broker.port, 1883);
    assert!(
        started.elapsed() < TIMEOUT,
        "waited for the connection to close"
    );
}

fn setup(args: &[&str]) -> Result<Option<MqttSetup>, MqttConfigError> {
    let mut all = vec!["serve"];
    all.extend_from_slice(args);
    match parse("p1mux", &all) {
        Parsed::Serve { config, .. } => Ok(config.mqtt),
        Parsed::Usage(e) => match e.usage {
            Usage::Config(ConfigError::Mqtt(e)) => Err(e),
            _ => panic!("{e}"),
        },
        _ => panic!("not serve"),
    }
}

#[test]
fn mqtt_homeassistant_on_the_command_line() {
    let Ok(Some(MqttSetup::FromSupervisor(options))) =
        setup(&["--mqtt", "homeassistant", "--mqtt-qos", "1"])
    else {
        panic!("not asked of the Supervisor")
    };
    assert_eq!(options.qos, Some(1));
    // The Supervisor gives the password: one of p1mux's own is a mistake.
    let e = setup(&["--mqtt", "homeassistant", "--mqtt-password-file", "/pw"]).unwrap_err();
    assert_eq!(
        e,
        MqttConfigError::PasswordFromSupervisor {
            option: "--mqtt-password-file"
        }
    );
    assert!(
        e.to_string().contains("leave --mqtt-password-file out"),
        "{e}"
    );
    // The other options are checked at once, as with a URL.
    assert!(matches!(
        setup(&["--mqtt", "homeassistant", "--mqtt-topic", "a/#"]),
        Err(MqttConfigError::Prefix { .. })
    ));
    assert!(matches!(
        setup(&["--mqtt", "homeassistant", "--mqtt-qos", "2"]),
        Err(MqttConfigError::Qos(2))
    ));
    // A CA is taken: it is used if the Supervisor's broker speaks TLS.
    assert!(matches!(
        setup(&["--mqtt", "homeassistant", "--mqtt-ca", "/ca.pem"]),
        Ok(Some(MqttSetup::FromSupervisor(_)))
    ));
    // Other words are still refused as URLs.
    assert!(matches!(
        setup(&["--mqtt", "home-assistant"]),
        Err(MqttConfigError::Broker { .. })
    ));
}
