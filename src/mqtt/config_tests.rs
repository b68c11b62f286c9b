use super::*;
use crate::config::{ConfigError, Parsed, Usage, parse};

fn mqtt(args: &[&str]) -> Result<Option<MqttConfig>, MqttConfigError> {
    let mut all = vec!["serve"];
    all.extend_from_slice(args);
    match parse("p1mux", &all) {
        Parsed::Serve { config, .. } => Ok(config.mqtt.map(|setup| match setup {
            MqttSetup::Ready(config) => config,
            MqttSetup::FromSupervisor(_) => panic!("not a broker URL"),
        })),
        Parsed::Usage(e) => match e.usage {
            Usage::Config(ConfigError::Mqtt(e)) => Err(e),
            _ => panic!("{e}"),
        },
        _ => panic!("not serve"),
    }
}

#[test]
fn brokers() {
    let ok = |s: &str| Broker::parse(s).unwrap();
    assert_eq!(
        ok("mqtt://broker"),
        Broker {
            host: "broker".into(),
            port: 1883,
            tls: false,
            user: None
        }
    );
    assert_eq!(
        ok("mqtts://p1mux@ha.local:8884/"),
        Broker {
            host: "ha.local".into(),
            port: 8884,
            tls: true,
            user: Some("p1mux".into())
        }
    );
    assert_eq!(ok("mqtts://[::1]").port, 8883);
    assert_eq!(
        ok("mqtt://[fd00::1]:1884").to_string(),
        "mqtt://[fd00::1]:1884"
    );
    assert_eq!(ok("mqtt://a@b@host").user.as_deref(), Some("a@b"));
    for bad in [
        "broker",
        "tcp://broker:1883",
        "mqtt://",
        "mqtt://:1883",
        "mqtt://host:0",
        "mqtt://host:99999",
        "mqtt://host/topic",
        "mqtt://@host",
        "mqtt://[::1",
        "mqtt://[nope]:1",
        "mqtt://::1:1883",
    ] {
        assert!(Broker::parse(bad).is_err(), "{bad}");
    }
    assert!(matches!(
        Broker::parse("mqtt://host:0"),
        Err(MqttConfigError::Broker {
            error: BrokerError::Addr(_),
            ..
        })
    ));
    let err = Broker::parse("mqtt://user:secret@host").unwrap_err();
    assert_eq!(err, MqttConfigError::PasswordInUrl);
    let err = err.to_string();
    assert!(err.contains("--mqtt-password-file"), "{err}");
    assert!(
        !err.contains("secret@"),
        "the message repeats the URL: {err}"
    );
}

#[test]
fn defaults() {
    assert_eq!(mqtt(&[]), Ok(None));
    let c = mqtt(&["--mqtt", "mqtt://broker"]).unwrap().unwrap();
    assert_eq!(c.prefix, "p1mux");
    assert_eq!(c.id, None);
    assert_eq!(c.qos, QoS::AtMostOnce);
    assert_eq!(c.discovery.as_deref(), Some("homeassistant"));
    assert_eq!(c.interval, Duration::ZERO);
    assert_eq!(c.password_file, None);
}

#[test]
fn options() {
    let c = mqtt(&[
        "--mqtt",
        "mqtts://p1@broker",
        "--mqtt-password-file",
        "/etc/p1mux/pw",
        "--mqtt-ca",
        "/etc/p1mux/ca.pem",
        "--mqtt-topic",
        "site/flat-3",
        "--mqtt-id",
        "meter_1",
        "--mqtt-qos",
        "1",
        "--mqtt-discovery-prefix",
        "ha",
        "--mqtt-interval",
        "60",
    ])
    .unwrap()
    .unwrap();
    assert_eq!(c.password_file.as_deref(), Some(Path::new("/etc/p1mux/pw")));
    assert_eq!(c.ca.as_deref(), Some(Path::new("/etc/p1mux/ca.pem")));
    assert_eq!(
        (c.prefix.as_str(), c.id.as_deref()),
        ("site/flat-3", Some("meter_1"))
    );
    assert_eq!(c.qos, QoS::AtLeastOnce);
    assert_eq!(c.discovery.as_deref(), Some("ha"));
    assert_eq!(c.interval, Duration::from_secs(60));
    let c = mqtt(&["--mqtt", "mqtt://b", "--no-mqtt-discovery"])
        .unwrap()
        .unwrap();
    assert_eq!(c.discovery, None);
}

#[test]
fn the_password_credential_is_used_for_a_user() {
    let dir = std::env::temp_dir().join(format!("p1mux-mqtt-cred-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let with = |url: &str| {
        let options = MqttOptions {
            url: Some(url.into()),
            ..MqttOptions::default()
        };
        MqttConfig::from_options_with(&options, Some(&dir))
            .unwrap()
            .unwrap()
            .password_file
    };
    assert_eq!(with("mqtt://p1@b"), None, "no credential file yet");
    std::fs::write(dir.join(PASSWORD_CREDENTIAL), "pw\n").unwrap();
    assert_eq!(with("mqtt://p1@b"), Some(dir.join(PASSWORD_CREDENTIAL)));
    assert_eq!(with("mqtt://b"), None, "no user, no password");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mistakes_are_usage_errors() {
    use MqttConfigError as E;
    let cases: [crate::config::tests::Case<E>; 14] = [
        (&["--mqtt-topic", "x"], |e| {
            *e == E::NeedsBroker {
                option: "--mqtt-topic",
            }
        }),
        (&["--no-mqtt-discovery"], |e| {
            *e == E::NeedsBroker {
                option: "--no-mqtt-discovery",
            }
        }),
        (
            &["--mqtt", "mqtt://b", "--mqtt-ca", "ca.pem"],
            |e| matches!(e, E::CaWithoutTls { host } if host == "b"),
        ),
        (&["--mqtt", "mqtt://b", "--mqtt-password-file", "pw"], |e| {
            matches!(e, E::PasswordWithoutUser { .. })
        }),
        (
            &["--mqtt", "mqtt://b", "--mqtt-topic", "a/+/b"],
            |e| matches!(e, E::Prefix { text, .. } if text == "a/+/b"),
        ),
        (&["--mqtt", "mqtt://b", "--mqtt-topic", "a//b"], |e| {
            matches!(e, E::Prefix { .. })
        }),
        (&["--mqtt", "mqtt://b", "--mqtt-topic", ""], |e| {
            matches!(e, E::Prefix { .. })
        }),
        (&["--mqtt", "mqtt://b", "--mqtt-id", "a/b"], |e| {
            matches!(e, E::Id(_))
        }),
        (&["--mqtt", "mqtt://b", "--mqtt-id", "meter 1"], |e| {
            matches!(e, E::Id(_))
        }),
        (&["--mqtt", "mqtt://b", "--mqtt-qos", "2"], |e| {
            *e == E::Qos(2)
        }),
        (&["--mqtt", "mqtt://b", "--mqtt-interval", "100000"], |e| {
            *e == E::Interval(100000)
        }),
        (
            &[
                "--mqtt",
                "mqtt://b",
                "--no-mqtt-discovery",
                "--mqtt-discovery-prefix",
                "ha",
            ],
            |e| *e == E::DiscoveryContradiction,
        ),
        (&["--mqtt", "mqtt://u:p@b"], |e| *e == E::PasswordInUrl),
        (&["--mqtt", "mqtt://b", "--forward", "raw"], |e| {
            *e == E::RawForward
        }),
    ];
    for (bad, is) in cases {
        let err = mqtt(bad).unwrap_err();
        assert!(is(&err), "{bad:?}: {err:?}");
        assert!(err.to_string().to_lowercase().contains("mqtt"), "{err}");
    }
    assert!(is_topic_safe("E0044007382246019"));
    assert!(!is_topic_safe("a.b") && !is_topic_safe(""));
}

#[test]
fn passwords_from_files() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("p1mux-mqtt-pw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("pw");
    let write = |text: &[u8], mode: u32| {
        std::fs::write(&file, text).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    write(b"s3cret pass\n", 0o600);
    assert_eq!(
        read_password(&file).unwrap(),
        (b"s3cret pass".to_vec(), None)
    );
    write(b"two\r\n\r\n", 0o640);
    let (pw, warning) = read_password(&file).unwrap();
    assert_eq!(pw, b"two\r\n", "only the last line end goes");
    let warning = warning.unwrap();
    assert!(
        warning.contains("mode 640") && warning.contains("chmod 600"),
        "{warning}"
    );
    assert!(!warning.contains("two"));
    write(b"\n", 0o600);
    assert!(matches!(
        read_password(&file),
        Err(PasswordError::Empty { .. })
    ));
    write(&[b'x'; 5000], 0o600);
    assert!(matches!(
        read_password(&file),
        Err(PasswordError::TooLong { limit: 4096, .. })
    ));
    let missing = read_password(&dir.join("nope")).unwrap_err();
    assert!(
        matches!(&missing, PasswordError::Read { error, .. } if error.kind() == std::io::ErrorKind::NotFound)
    );
    assert!(missing.to_string().contains("no such file"), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();
}
