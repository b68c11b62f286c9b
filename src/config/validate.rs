//! From the options as given (command line, then config file) to a
//! [`Config`]: every check that needs no file opened.

use std::net::{Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use super::announce;
use super::error::ConfigError;
use super::file::ConfigFile;
use super::{Config, DEMO_HTTP, Forward, HttpConfig, KeyFiles, SourceConfig};
use crate::cli::{DEFAULT_PORT, Device, ListenAddr, ServeArgs};
use crate::encrypted::key::{self, KeyFileError, Keys};
use crate::encrypted::{Authentication, Key};
use crate::framer::MAX_FRAME;
use crate::line::settings_for;
use crate::mqtt::MqttConfig;
use crate::mqtt::config::MqttOptions;

/// The addresses to bind for a repeatable listening option, or `default`'s
/// port on all interfaces. The same address twice, or an IPv4 address
/// beside `[::]` on the same port (which serves IPv4 already), is a
/// mistake that binding would only report as "address in use".
pub fn listen_addresses(
    given: &[ListenAddr],
    option: &'static str,
    default: u16,
) -> Result<Vec<SocketAddr>, ConfigError> {
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
            if let Some(&(other, text)) = clash {
                let (text, other_text) = (arg.text.clone(), text.to_string());
                return Err(if other == addr {
                    ConfigError::ListenTwice {
                        option,
                        text,
                        other: other_text,
                    }
                } else {
                    ConfigError::ListenOverlap {
                        option,
                        text,
                        other: other_text,
                        port: addr.port(),
                    }
                });
            }
            all.push((addr, &arg.text));
        }
    }
    Ok(all.into_iter().map(|(addr, _)| addr).collect())
}

impl KeyFiles {
    /// Refuses what cannot be a key file: an empty path, or the key itself
    /// (which `ps` would show every user), named without its digits.
    pub fn from_args(
        key_file: Option<PathBuf>,
        auth_key_file: Option<PathBuf>,
    ) -> Result<KeyFiles, ConfigError> {
        for (option, path) in [
            ("--key-file", &key_file),
            ("--auth-key-file", &auth_key_file),
        ] {
            let Some(path) = path else { continue };
            if path.as_os_str().is_empty() {
                return Err(ConfigError::KeyFileEmpty { option });
            }
            let looks_like_a_key = path.to_str().is_some_and(|t| Key::parse_hex(t).is_ok());
            if looks_like_a_key && !path.exists() {
                return Err(ConfigError::KeyOnCommandLine { option });
            }
        }
        Ok(KeyFiles {
            key_file,
            auth_key_file,
            key: None,
        })
    }

    /// The keys: the config file's `key`, else those of
    /// [`key::load`] (the files given, else systemd's credentials).
    pub fn load(&self, credentials: Option<&Path>) -> Result<Option<Keys>, KeyFileError> {
        let Some((key, from)) = &self.key else {
            return key::load(
                self.key_file.as_deref(),
                self.auth_key_file.as_deref(),
                credentials,
            );
        };
        let auth_path = self.auth_key_file.clone().or_else(|| {
            credentials
                .map(|dir| dir.join(key::AUTH_KEY_CREDENTIAL))
                .filter(|path| path.exists())
        });
        let mut warnings = Vec::new();
        let authentication = match auth_path {
            Some(path) => {
                let auth = key::read_auth_key(&path)?;
                warnings.extend(auth.warning);
                Authentication::Given(auth.key)
            }
            None => Authentication::Default,
        };
        Ok(Some(Keys {
            key: key.clone(),
            authentication,
            key_path: from.clone(),
            warnings,
        }))
    }
}

impl Config {
    /// Checks the options given on the command line (with a config file's
    /// merged in); `file` brings the secrets only a file may hold.
    pub fn from_args(args: ServeArgs, file: Option<&ConfigFile>) -> Result<Config, ConfigError> {
        let file_key = file
            .and_then(|f| f.key.as_ref().map(|(key, _)| (key.clone(), f.path.clone())))
            // A --key-file on the command line wins over the file's key.
            .filter(|_| args.key_file.is_none());
        let mqtt_password = file
            .and_then(|f| f.mqtt_password.as_ref().map(|(pw, _)| pw.clone()))
            .filter(|_| args.mqtt_password_file.is_none());
        let mqtt = MqttConfig::from_options(&MqttOptions {
            url: args.mqtt.clone(),
            password_file: args.mqtt_password_file.clone(),
            password: mqtt_password,
            ca: args.mqtt_ca.clone(),
            topic: args.mqtt_topic.clone(),
            id: args.mqtt_id.clone(),
            qos: args.mqtt_qos,
            discovery_prefix: args.mqtt_discovery_prefix.clone(),
            no_discovery: args.no_mqtt_discovery,
            interval: args.mqtt_interval,
        })?;
        if mqtt.is_some() && args.forward == Forward::Raw {
            return Err(crate::mqtt::config::MqttConfigError::RawForward.into());
        }
        if args.max_clients == 0 {
            return Err(ConfigError::MaxClients);
        }
        if args.client_buffer < MAX_FRAME {
            return Err(ConfigError::ClientBuffer {
                given: args.client_buffer,
            });
        }
        let device = match (args.demo, args.device) {
            (true, Some(Device::Demo) | None) => Device::Demo,
            (true, Some(other)) => {
                return Err(ConfigError::DemoAndDevice {
                    device: other.to_string(),
                });
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
                return Err(ConfigError::SerialOptionsOnNetwork);
            }
            Device::Network(source) => SourceConfig::Network(source),
            Device::Demo if serial_options => return Err(ConfigError::SerialOptionsOnDemo),
            Device::Demo => SourceConfig::Demo,
        };
        let listen = listen_addresses(&args.listen, "--listen", DEFAULT_PORT)?;
        if args.forward == Forward::Raw && (args.key_file.is_some() || file_key.is_some()) {
            return Err(ConfigError::RawWithKey);
        }
        let mut keys = KeyFiles::from_args(args.key_file, args.auth_key_file)?;
        keys.key = file_key;
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
