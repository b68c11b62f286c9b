//! The validated settings `serve` runs with.
//!
//! [`Config::from_args`] checks everything that can be checked before
//! anything is opened, so that a mistake on the command line is a usage
//! error (exit 2) with a message that says what to write instead.

use std::net::{Ipv6Addr, SocketAddr};
use std::path::PathBuf;

mod announce;
mod command;

pub use announce::MdnsConfig;
pub use command::{Parsed, parse};

use crate::cli::{DEFAULT_PORT, Device, Forward, ListenAddr, NetSource, ServeArgs};
use crate::encrypted::Key;
use crate::framer::MAX_FRAME;
use crate::line::{Setting, settings_for};
use crate::mqtt::MqttConfig;
use crate::net::allow::Cidr;

/// Where telegrams come from, with what it takes to read them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceConfig {
    Serial {
        device: PathBuf,
        /// One setting, or several to auto-detect from, in order.
        settings: Vec<Setting>,
    },
    /// A meter on the network (`--device tcp://HOST:PORT`).
    Network(NetSource),
    Demo,
}

/// The addresses to bind for a repeatable listening option, or `default`'s
/// port on all interfaces. The same address twice, or an IPv4 address
/// beside `[::]` on the same port (which serves IPv4 already), is a
/// mistake that binding would only report as "address in use".
pub fn listen_addresses(
    given: &[ListenAddr],
    option: &str,
    default: u16,
) -> Result<Vec<SocketAddr>, String> {
    if given.is_empty() {
        return Ok(vec![SocketAddr::from((Ipv6Addr::UNSPECIFIED, default))]);
    }
    let mut all: Vec<(SocketAddr, &str)> = Vec::new();
    for arg in given {
        for &addr in &arg.addrs {
            let clash = all.iter().find(|(other, _)| {
                other.port() == addr.port()
                    && addr.port() != 0
                    && (*other == addr
                        || other.ip().is_unspecified() && other.is_ipv6()
                        || addr.ip().is_unspecified() && addr.is_ipv6())
            });
            if let Some((other, text)) = clash {
                return Err(if *other == addr {
                    format!(
                        "{option} {} is given twice ({text} is the same address)",
                        arg.text
                    )
                } else {
                    format!(
                        "{option} {} and {option} {text} overlap: [::]:{} already serves IPv4 \
                         too; give one of them",
                        arg.text,
                        addr.port()
                    )
                });
            }
            all.push((addr, &arg.text));
        }
    }
    Ok(all.into_iter().map(|(addr, _)| addr).collect())
}

/// Where the status page, API and metrics are served (`--http`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpConfig {
    pub addrs: Vec<SocketAddr>,
    /// The demo's default page: when it cannot bind (the port is taken),
    /// the demo starts without it and says so, rather than failing.
    pub optional: bool,
}

/// The demo's status page, when no --http is given: loopback only.
pub const DEMO_HTTP: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8080);

/// Settings for one run of `serve`, validated.
#[derive(Clone, Debug)]
pub struct Config {
    pub source: SourceConfig,
    /// Addresses to listen on; never empty.
    pub listen: Vec<SocketAddr>,
    pub forward: Forward,
    /// Client address blocks allowed to connect; empty allows everyone.
    pub allow: Vec<Cidr>,
    pub max_clients: usize,
    /// Per-client queue bound in bytes; at least one maximal telegram.
    pub client_buffer: usize,
    /// Send the last telegram to a new client.
    pub replay: bool,
    /// Where the keys of an encrypted meter are, if given.
    pub keys: KeyFiles,
    /// Publish to an MQTT broker (`--mqtt`).
    pub mqtt: Option<MqttConfig>,
    /// The HTTP output; None when off.
    pub http: Option<HttpConfig>,
    /// Announce the HTTP output over mDNS (`--mdns`); None when off.
    pub mdns: Option<MdnsConfig>,
}

/// `--key-file` and `--auth-key-file`, as given: the files are read at
/// start-up ([`crate::encrypted::key::load`], which also looks in
/// `$CREDENTIALS_DIRECTORY`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyFiles {
    pub key_file: Option<PathBuf>,
    pub auth_key_file: Option<PathBuf>,
}

impl KeyFiles {
    /// Refuses what cannot be a key file: an empty path, or the key itself
    /// (which `ps` would show every user), named without its digits.
    pub fn from_args(
        key_file: Option<PathBuf>,
        auth_key_file: Option<PathBuf>,
    ) -> Result<KeyFiles, String> {
        for (option, path) in [
            ("--key-file", &key_file),
            ("--auth-key-file", &auth_key_file),
        ] {
            let Some(path) = path else { continue };
            if path.as_os_str().is_empty() {
                return Err(format!(
                    "{option} is empty: give the path of the file that holds the key"
                ));
            }
            let looks_like_a_key = path.to_str().is_some_and(|t| Key::parse_hex(t).is_ok());
            if looks_like_a_key && !path.exists() {
                return Err(format!(
                    "{option} takes the path of a file that holds the key, not the key itself: \
                     on the command line every user can read it (ps). Put the key in a file \
                     readable only by root (chmod 600) and give its path"
                ));
            }
        }
        Ok(KeyFiles {
            key_file,
            auth_key_file,
        })
    }
}

impl Config {
    pub fn from_args(args: ServeArgs) -> Result<Config, String> {
        let mqtt = MqttConfig::from_args(&args)?;
        if args.max_clients == 0 {
            return Err("--max-clients must be at least 1".into());
        }
        if args.client_buffer < MAX_FRAME {
            return Err(format!(
                "--client-buffer {} is too small: it must hold one whole telegram ({MAX_FRAME} bytes)",
                args.client_buffer
            ));
        }
        let device = match (args.demo, args.device) {
            (true, Some(Device::Demo) | None) => Device::Demo,
            (true, Some(other)) => {
                return Err(format!(
                    "--demo and --device {other} both say where telegrams come from: give one"
                ));
            }
            (false, device) => device.unwrap_or_else(Device::default_serial),
        };
        let serial_options = args.baud.is_some() || args.framing.is_some();
        let source = match device {
            Device::Serial(device) => SourceConfig::Serial {
                device,
                settings: settings_for(args.baud, args.framing),
            },
            Device::Network(_) if serial_options => {
                return Err(
                    "--baud and --framing set up a serial port; a tcp:// source sends bytes \
                     already decoded, so leave them out"
                        .into(),
                );
            }
            Device::Network(source) => SourceConfig::Network(source),
            Device::Demo if serial_options => {
                return Err(
                    "--baud and --framing set up a serial port; the demo meter has none".into(),
                );
            }
            Device::Demo => SourceConfig::Demo,
        };
        let listen = listen_addresses(&args.listen, "--listen", DEFAULT_PORT)?;
        if args.forward == Forward::Raw && args.key_file.is_some() {
            return Err(
                "--forward raw sends the bytes as read, so --key-file would decrypt nothing: \
                 leave one out"
                    .into(),
            );
        }
        let keys = KeyFiles::from_args(args.key_file, args.auth_key_file)?;
        let http = match (&args.http[..], &source) {
            ([], SourceConfig::Demo) => Some(HttpConfig {
                addrs: vec![DEMO_HTTP],
                optional: true,
            }),
            ([], _) => None,
            (given, _) => Some(HttpConfig {
                addrs: listen_addresses(given, "--http", DEMO_HTTP.port())?,
                optional: false,
            }),
        };
        let mdns = announce::mdns(args.mdns, http.as_ref(), !args.http.is_empty())?;
        Ok(Config {
            mdns,
            source,
            listen,
            forward: args.forward,
            allow: args.allow,
            max_clients: args.max_clients,
            client_buffer: args.client_buffer,
            replay: !args.no_replay,
            keys,
            mqtt,
            http,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::NetSource;
    use crate::line::{CANDIDATES, Framing, Setting};
    use std::net::SocketAddr;

    fn serve(args: &[&str]) -> Result<Config, String> {
        let mut all = vec!["serve"];
        all.extend_from_slice(args);
        match parse("p1mux", &all) {
            Parsed::Serve { config, .. } => Ok(*config),
            Parsed::Print(s) | Parsed::Usage(s) => Err(s),
            Parsed::Probe { .. } => Err("probe".into()),
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
            Parsed::Usage(msg) => assert!(msg.contains("nc HOST PORT"), "{msg}"),
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
            let err = serve(&[option, key]).unwrap_err();
            assert!(err.contains("not the key itself"), "{err}");
            assert!(!err.contains("0F1E"), "the key is never repeated: {err}");
        }
        match parse("p1mux", &["probe", "--key-file", key]) {
            Parsed::Usage(msg) => assert!(msg.starts_with("p1mux probe: --key-file"), "{msg}"),
            _ => panic!("a key on probe's command line must be a usage error"),
        }
        assert!(matches!(
            parse("p1mux", &["probe", "--key-file", "/k", "--auth-key-file", "/a"]),
            Parsed::Probe { keys, .. } if keys.auth_key_file == Some("/a".into())
        ));
    }

    #[test]
    fn mistakes_are_usage_errors() {
        for bad in [
            &["--baud", "0"][..],
            &["--baud", "fast"],
            &["--listen", "localhost"],
            &["--framing", "9n2"],
            &["--forward", "some"],
            &["--max-clients", "0"],
            &["--client-buffer", "1K"],
            &["--bogus"],
            &["--allow", "192.168.1.0/33"],
            &["--allow", "lan"],
            &["--device", "tcp://192.168.1.50"],
            &["--device", "tcp://192.168.1.50:23", "--baud", "115200"],
            &["--device", "tcp://esp:23", "--framing", "7e1"],
            &["--demo", "--device", "/dev/ttyUSB0"],
            &["--device", "demo", "--baud", "9600"],
            &["--key-file", ""],
            &["--key-file", "/etc/p1mux/key", "--forward", "raw"],
        ] {
            let err = serve(bad).unwrap_err();
            assert!(!err.is_empty(), "{bad:?}");
        }
        assert!(matches!(parse("p1mux", &[]), Parsed::Usage(_)));
        assert!(
            matches!(parse("p1mux", &["--version"]), Parsed::Print(s) if s.starts_with("p1mux "))
        );
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
}
