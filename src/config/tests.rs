//! The command line to [`Config`], and each mistake to its error.

use super::*;
use crate::cli::ArgError;
use crate::line::{CANDIDATES, Framing, Setting};
use std::net::SocketAddr;

fn serve(args: &[&str]) -> Result<Config, Usage> {
    let mut all = vec!["serve"];
    all.extend_from_slice(args);
    match parse("p1mux", &all) {
        Parsed::Serve { config, .. } => Ok(*config),
        Parsed::Usage(e) => Err(e.usage),
        other => panic!("{other:?}"),
    }
}

/// Arguments, and whether an error is the one they must give.
pub(crate) type Case<E> = (&'static [&'static str], fn(&E) -> bool);

/// The validation error of `serve ARGS`; panics on any other outcome.
fn config_error(args: &[&str]) -> ConfigError {
    match serve(args) {
        Err(Usage::Config(e)) => e,
        other => panic!("{args:?}: {other:?}"),
    }
}

#[test]
fn defaults() {
    let c = serve(&[]).unwrap();
    assert_eq!(
        c.source,
        SourceConfig::Serial {
            device: "/dev/ttyUSB0".into(),
            settings: CANDIDATES.to_vec(),
        }
    );
    assert_eq!(c.listen, vec!["[::]:2001".parse().unwrap()]);
    assert_eq!(c.forward, Forward::Valid);
    assert_eq!(
        (c.max_clients, c.client_buffer, c.replay),
        (64, 262144, true)
    );
}

#[test]
fn framing_follows_baud() {
    let settings = |args: &[&str]| match serve(args).unwrap().source {
        SourceConfig::Serial { settings, .. } => settings,
        other => panic!("not a serial source: {other:?}"),
    };
    let seven_e1 = Setting::new(9600, Framing::SevenE1);
    assert_eq!(settings(&["--baud", "9600"]), vec![seven_e1]);
    assert_eq!(
        settings(&["--baud", "115200"]),
        vec![Setting::new(115200, Framing::EightN1)]
    );
    assert_eq!(
        settings(&["--baud", "9600", "--framing", "8n1"]),
        vec![Setting::new(9600, Framing::EightN1)]
    );
    assert_eq!(
        settings(&["--baud", "auto", "--framing", "auto"]),
        CANDIDATES.to_vec()
    );
    assert_eq!(
        settings(&["--framing", "7e1"]),
        vec![CANDIDATES[1], CANDIDATES[3]]
    );
}

#[test]
fn listen_forms() {
    let c = serve(&[
        "--listen",
        "127.0.0.1:0",
        "--listen",
        "[::1]:2001",
        "--listen",
        "23",
    ])
    .unwrap();
    let want: Vec<SocketAddr> = vec![
        "127.0.0.1:0".parse().unwrap(),
        "[::1]:2001".parse().unwrap(),
        "[::]:23".parse().unwrap(),
    ];
    assert_eq!(c.listen, want);
}

#[test]
fn network_source() {
    let c = serve(&["--device", "tcp://esp-p1.local:23"]).unwrap();
    assert_eq!(
        c.source,
        SourceConfig::Network(NetSource {
            host: "esp-p1.local".into(),
            port: 23
        })
    );
    match parse("p1mux", &["probe", "--device", "tcp://esp:23"]) {
        Parsed::Usage(e) => assert!(matches!(e.usage, Usage::ProbeNetwork), "{e}"),
        _ => panic!("probe of a network source must be a usage error"),
    }
}

#[test]
fn key_files_are_paths_never_keys() {
    let c = serve(&["--key-file", "/etc/p1mux/key"]).unwrap();
    assert_eq!(c.keys.key_file, Some("/etc/p1mux/key".into()));
    assert_eq!(c.keys.auth_key_file, None);
    assert_eq!(serve(&[]).unwrap().keys, KeyFiles::default());
    let key = "0F1E2D3C4B5A69788796A5B4C3D2E1F0";
    for option in ["--key-file", "--auth-key-file"] {
        let err = config_error(&[option, key]);
        assert!(
            matches!(err, ConfigError::KeyOnCommandLine { option: o } if o == option),
            "{err}"
        );
        let text = err.to_string();
        assert!(text.contains("not the key itself"), "{text}");
        assert!(!text.contains("0F1E"), "the key is never repeated: {text}");
    }
    match parse("p1mux", &["probe", "--key-file", key]) {
        Parsed::Usage(e) => {
            assert!(matches!(
                e.usage,
                Usage::Config(ConfigError::KeyOnCommandLine { .. })
            ));
            assert!(e.to_string().starts_with("p1mux probe: --key-file"), "{e}");
        }
        _ => panic!("a key on probe's command line must be a usage error"),
    }
    assert!(matches!(
        parse("p1mux", &["probe", "--key-file", "/k", "--auth-key-file", "/a"]),
        Parsed::Probe { keys, .. } if keys.auth_key_file == Some("/a".into())
    ));
}

#[test]
fn mistakes_are_usage_errors() {
    // Values argh parses: its message holds ours.
    for (bad, says) in [
        (&["--baud", "0"][..], ArgError::Baud("0".into()).to_string()),
        (
            &["--baud", "fast"],
            ArgError::Baud("fast".into()).to_string(),
        ),
        (
            &["--listen", "localhost"],
            "bad listen address 'localhost': no port".into(),
        ),
        (
            &["--framing", "9n2"],
            ArgError::Framing("9n2".into()).to_string(),
        ),
        (&["--forward", "some"], "unknown forward mode 'some'".into()),
        (&["--bogus"], "Unrecognized argument: --bogus".into()),
        (
            &["--allow", "192.168.1.0/33"],
            "bad address block '192.168.1.0/33'".into(),
        ),
        (&["--allow", "lan"], "bad address block 'lan'".into()),
        (
            &["--device", "tcp://192.168.1.50"],
            "'tcp://192.168.1.50': no port".into(),
        ),
    ] {
        match serve(bad) {
            Err(Usage::Args(text)) => assert!(text.contains(&says), "{bad:?}: {text}"),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    // Settings that only fail together: typed.
    let cases: [Case<ConfigError>; 8] = [
        (&["--max-clients", "0"], |e| {
            matches!(e, ConfigError::MaxClients)
        }),
        (&["--client-buffer", "1K"], |e| {
            matches!(e, ConfigError::ClientBuffer { given: 1024 })
        }),
        (
            &["--device", "tcp://192.168.1.50:23", "--baud", "115200"],
            |e| matches!(e, ConfigError::SerialOptionsOnNetwork),
        ),
        (&["--device", "tcp://esp:23", "--framing", "7e1"], |e| {
            matches!(e, ConfigError::SerialOptionsOnNetwork)
        }),
        (
            &["--demo", "--device", "/dev/ttyUSB0"],
            |e| matches!(e, ConfigError::DemoAndDevice { device } if device == "/dev/ttyUSB0"),
        ),
        (&["--device", "demo", "--baud", "9600"], |e| {
            matches!(e, ConfigError::SerialOptionsOnDemo)
        }),
        (&["--key-file", ""], |e| {
            matches!(
                e,
                ConfigError::KeyFileEmpty {
                    option: "--key-file"
                }
            )
        }),
        (&["--key-file", "/etc/p1mux/key", "--forward", "raw"], |e| {
            matches!(e, ConfigError::RawWithKey)
        }),
    ];
    for (bad, is) in cases {
        let err = config_error(bad);
        assert!(is(&err), "{bad:?}: {err:?}");
    }
    assert!(matches!(parse("p1mux", &[]), Parsed::Usage(_)));
    assert!(matches!(parse("p1mux", &["--version"]), Parsed::Print(s) if s.starts_with("p1mux ")));
    assert!(matches!(
        parse("p1mux", &["serve", "--help"]),
        Parsed::Print(_)
    ));
    assert!(matches!(
        parse("p1mux", &["probe", "--seconds", "3"]),
        Parsed::Probe { seconds: 3, .. }
    ));
    assert!(matches!(
        parse("p1mux", &["probe", "--seconds", "0"]),
        Parsed::Usage(_)
    ));
}
