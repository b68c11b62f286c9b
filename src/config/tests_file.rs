//! `serve --config FILE`: TOML and JSON to the same [`Config`] as the
//! command line, the command line over the file, secrets, and each
//! mistake with its file, line and key.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use super::*;
use crate::cli::ArgError;
use crate::encrypted::key::KeyError;
use crate::mqtt::config::{MqttSetup, Password};

/// A file in a fresh directory, removed on drop.
struct Temp(PathBuf);

impl Temp {
    fn new(name: &str, text: &str, mode: u32) -> Temp {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "p1mux-config-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        Temp(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.0.parent().unwrap());
    }
}

fn serve(args: &[&str]) -> Result<(Config, u8), Usage> {
    let mut all = vec!["serve"];
    all.extend_from_slice(args);
    match parse("p1mux", &all) {
        Parsed::Serve { config, verbose } => Ok((*config, verbose)),
        Parsed::Usage(e) => Err(e.usage),
        other => panic!("{other:?}"),
    }
}

/// `serve --config FILE ARGS` with FILE holding `text`.
fn with_file(name: &str, text: &str, args: &[&str]) -> Result<(Config, u8), Usage> {
    let file = Temp::new(name, text, 0o600);
    let mut all = vec!["--config", file.path()];
    all.extend_from_slice(args);
    serve(&all)
}

/// The file error of a config file holding `text`.
fn file_error(name: &str, text: &str) -> FileError {
    match with_file(name, text, &[]) {
        Err(Usage::Config(ConfigError::File(e))) => e,
        other => panic!("{text}: {other:?}"),
    }
}

const TOML: &str = r#"
# Every kind of option once.
device = "tcp://esp:23"
listen = ["127.0.0.1:2001", 2002]
forward = "all"
allow = ["192.168.1.0/24"]
max-clients = 8
client-buffer = "1M"
no-replay = true
verbose = 2
mqtt = "mqtt://p1mux@broker"
mqtt-qos = 1
no-mqtt-discovery = false
http = [8080]
"#;

const SAME_ON_THE_COMMAND_LINE: &[&str] = &[
    "--device",
    "tcp://esp:23",
    "--listen",
    "127.0.0.1:2001",
    "--listen",
    "2002",
    "--forward",
    "all",
    "--allow",
    "192.168.1.0/24",
    "--max-clients",
    "8",
    "--client-buffer",
    "1M",
    "--no-replay",
    "-vv",
    "--mqtt",
    "mqtt://p1mux@broker",
    "--mqtt-qos",
    "1",
    "--http",
    "8080",
];

fn same(a: &Config, b: &Config) {
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
}

#[test]
fn a_toml_file_says_what_the_command_line_says() {
    let (from_file, verbose) = with_file("p1mux.toml", TOML, &[]).unwrap();
    let (from_args, verbose_args) = serve(SAME_ON_THE_COMMAND_LINE).unwrap();
    same(&from_file, &from_args);
    assert_eq!((verbose, verbose_args), (2, 2));
}

#[test]
fn home_assistant_options_json() {
    // As the Supervisor writes it: one line; options left unset are null,
    // absent, or (a cleared text field) empty.
    let json = r#"{"device":"tcp://esp:23","listen":["127.0.0.1:2001","2002"],"forward":"all","allow":["192.168.1.0/24"],"max-clients":8,"client-buffer":"1M","no-replay":true,"verbose":2,"mqtt":"mqtt://p1mux@broker","mqtt-qos":1,"no-mqtt-discovery":false,"http":[8080],"key-file":null,"mqtt-topic":"","baud":null}"#;
    let (from_json, _) = with_file("options.json", json, &[]).unwrap();
    let (from_args, _) = serve(SAME_ON_THE_COMMAND_LINE).unwrap();
    same(&from_json, &from_args);
    // JSON is known by its first character too.
    let (c, _) = with_file("p1mux.conf", "\n  {\"demo\": true}", &[]).unwrap();
    assert_eq!(c.source, SourceConfig::Demo);
}

#[test]
fn the_command_line_wins() {
    let (c, verbose) = with_file(
        "p1mux.toml",
        TOML,
        &[
            "--device",
            "demo",
            "--listen",
            "0",
            "-v",
            "--forward",
            "valid",
        ],
    )
    .unwrap();
    assert_eq!(c.source, SourceConfig::Demo);
    // A repeatable option on the command line replaces the file's list.
    assert_eq!(c.listen, vec!["[::]:0".parse().unwrap()]);
    assert_eq!((verbose, c.forward), (1, Forward::Valid));
    // What the command line leaves alone comes from the file.
    assert_eq!((c.max_clients, c.replay), (8, false));
    // The file's switch stays on: a switch cannot be turned off there.
    let (c, _) = with_file(
        "p1mux.toml",
        "demo = true\nno-replay = false",
        &["--no-replay"],
    )
    .unwrap();
    assert_eq!((c.source, c.replay), (SourceConfig::Demo, false));
}

#[test]
fn wrong_keys_types_and_values_name_file_line_and_key() {
    let e = file_error("p1mux.toml", "demo = true\n\nmqtt_topic = \"x\"\n");
    assert_eq!((e.line, e.key.as_deref()), (Some(3), Some("mqtt_topic")));
    assert!(matches!(
        e.kind,
        FileErrorKind::UnknownKey {
            suggestion: Some("mqtt-topic")
        }
    ));
    let text = e.to_string();
    assert!(
        text.contains(
            "p1mux.toml line 3, key 'mqtt_topic': no such option; did you mean 'mqtt-topic'?"
        ),
        "{text}"
    );

    let e = file_error("p1mux.toml", "\nmax-clients = \"many\"");
    assert_eq!((e.line, e.key.as_deref()), (Some(2), Some("max-clients")));
    assert!(matches!(
        e.kind,
        FileErrorKind::WrongType {
            expected: "a whole number",
            found: "text"
        }
    ));
    assert!(matches!(
        file_error("p1mux.toml", "demo = \"yes\"").kind,
        FileErrorKind::WrongType { .. }
    ));
    assert!(matches!(
        file_error("p1mux.toml", "listen = [[\"0\"]]").kind,
        FileErrorKind::WrongType { .. }
    ));
    assert!(matches!(
        file_error("p1mux.toml", "[mqtt]\nhost = \"b\"").kind,
        FileErrorKind::WrongType {
            found: "a table",
            ..
        }
    ));

    let e = file_error("p1mux.toml", "demo = true\nbaud = 57600\n");
    assert_eq!((e.line, e.key.as_deref()), (Some(2), Some("baud")));
    assert!(matches!(&e.kind, FileErrorKind::Value(ArgError::Baud(b)) if b == "57600"));
    assert!(
        e.to_string()
            .contains("use auto, 115200 (DSMR 4/5) or 9600"),
        "{e}"
    );

    // A value that fails only beside another is found at its own line.
    let e = file_error("p1mux.toml", "demo = true\nmax-clients = 0\n");
    assert_eq!((e.line, e.key.as_deref()), (Some(2), Some("max-clients")));
    assert!(matches!(&e.kind, FileErrorKind::Setting(c) if matches!(**c, ConfigError::MaxClients)));
    let e = file_error(
        "o.json",
        "{\"demo\": true,\n \"mqtt-qos\": 2,\n \"mqtt\": \"mqtt://b\"}",
    );
    assert_eq!((e.line, e.key.as_deref()), (Some(2), Some("mqtt-qos")));

    let e = file_error("p1mux.toml", "demo = true\nlisten = [\"1.2.3.4:99999\"]");
    assert_eq!(e.line, Some(2));
    assert!(matches!(
        e.kind,
        FileErrorKind::Value(ArgError::Listen { .. })
    ));

    let e = file_error("p1mux.toml", "device = \"demo\"\ndevice = \"x\"\n");
    assert!(matches!(e.kind, FileErrorKind::Syntax(_)));
    assert_eq!(e.line, Some(2), "{e}");
    let e = file_error("o.json", "{\"demo\": true,\n\"demo\": false}");
    assert!(matches!(e.kind, FileErrorKind::Twice));
    assert_eq!(e.line, Some(2));
    let e = file_error("o.json", "{\"demo\": true,\n}");
    assert!(
        matches!(e.kind, FileErrorKind::Syntax(_)) && e.line == Some(2),
        "{e}"
    );
    assert!(matches!(
        file_error("p1mux.toml", "config = \"other.toml\"").kind,
        FileErrorKind::NotInFile
    ));
    let e = match serve(&["--config", "/nonexistent/p1mux.toml"]) {
        Err(Usage::Config(ConfigError::File(e))) => e,
        other => panic!("{other:?}"),
    };
    assert!(matches!(e.kind, FileErrorKind::Read(_)) && e.line.is_none());
    assert!(e.to_string().ends_with("p1mux.toml: no such file"), "{e}");
}

const KEY: &str = "0F1E2D3C4B5A69788796A5B4C3D2E1F0";

#[test]
fn secrets_in_a_file_only_its_owner_reads() {
    let text = format!(
        "demo = true\nkey = \"{KEY}\"\nmqtt = \"mqtt://p1@b\"\nmqtt-password = \"s3cret\"\n"
    );
    let file = Temp::new("p1mux.toml", &text, 0o640);
    let (c, _) = serve(&["--config", file.path()]).unwrap();
    let (key, from) = c.keys.key.clone().unwrap();
    assert_eq!(key, Key::parse_hex(KEY).unwrap());
    assert_eq!(from, file.0);
    let keys = c.keys.load(None).unwrap().unwrap();
    assert_eq!(keys.key_path, file.0);
    let Some(MqttSetup::Ready(mqtt)) = c.mqtt.as_ref() else {
        panic!("{:?}", c.mqtt)
    };
    assert_eq!(mqtt.password, Some(Password(b"s3cret".to_vec())));
    assert_eq!(mqtt.password().unwrap().unwrap().0, b"s3cret");
    let debug = format!("{c:?}");
    assert!(
        !debug.contains("s3cret") && !debug.contains("0F1E"),
        "{debug}"
    );

    // Readable by every user: refused, at the secret's line.
    std::fs::set_permissions(&file.0, std::fs::Permissions::from_mode(0o644)).unwrap();
    match serve(&["--config", file.path()]) {
        Err(Usage::Config(ConfigError::File(e))) => {
            assert!(matches!(e.kind, FileErrorKind::Exposed { mode } if mode & 0o777 == 0o644));
            assert_eq!((e.line, e.key.as_deref()), (Some(2), Some("key")));
            assert!(e.to_string().contains("chmod 600"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    // Without secrets, any mode will do.
    let open = Temp::new("p1mux.toml", "demo = true", 0o644);
    assert!(serve(&["--config", open.path()]).is_ok());
}

#[test]
fn secret_mistakes() {
    let e = file_error("p1mux.toml", "demo = true\nkey = \"0F1E2D3C\"\n");
    assert_eq!(e.line, Some(2));
    assert!(matches!(
        e.kind,
        FileErrorKind::Key(KeyError::Length { digits: 8 })
    ));
    assert!(
        !e.to_string().contains("0F1E"),
        "the key is never repeated: {e}"
    );
    let e = file_error(
        "p1mux.toml",
        &format!("key-file = \"/etc/p1mux/key\"\nkey = \"{KEY}\"\n"),
    );
    assert!(matches!(e.kind, FileErrorKind::Both { other: "key-file" }));
    let e = file_error(
        "p1mux.toml",
        "demo = true\nmqtt = \"mqtt://b\"\nmqtt-password = \"pw\"",
    );
    assert_eq!((e.line, e.key.as_deref()), (Some(3), Some("mqtt-password")));
    // The command line's key file wins over the file's key.
    let (c, _) = with_file(
        "p1mux.toml",
        &format!("demo = true\nkey = \"{KEY}\"\n"),
        &["--key-file", "/etc/p1mux/key"],
    )
    .unwrap();
    assert_eq!(c.keys.key, None);
    assert_eq!(c.keys.key_file, Some("/etc/p1mux/key".into()));
}

#[test]
fn one_value_for_a_list_and_empty_means_unset() {
    let (c, _) = with_file("p1mux.toml", "demo = true\nlisten = \"127.0.0.1:0\"", &[]).unwrap();
    assert_eq!(c.listen, vec!["127.0.0.1:0".parse().unwrap()]);
    let (c, _) = with_file("p1mux.toml", "demo = true\nlisten = []", &[]).unwrap();
    assert_eq!(c.listen, vec!["[::]:2001".parse().unwrap()]);
    // An add-on's cleared field: "" in JSON leaves the option unset; in
    // TOML it is the option's own mistake.
    let (c, _) = with_file("o.json", r#"{"demo": true, "key": "", "device": ""}"#, &[]).unwrap();
    assert_eq!((c.source, c.keys.key), (SourceConfig::Demo, None));
    assert!(matches!(
        file_error("p1mux.toml", "device = \"\"").kind,
        FileErrorKind::Value(ArgError::EmptyDevice)
    ));
}
