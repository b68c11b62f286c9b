//! The long options of `serve`, as a table: what a config file may say,
//! under the same names, and how each value is checked. A test holds it to
//! `serve --help`, so that a new option cannot be forgotten here.

use std::path::PathBuf;
use std::str::FromStr;

use super::{ArgError, Device, Forward, ListenAddr, parse_baud, parse_framing, parse_size};
use crate::net::allow::Cidr;

/// How an option is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `--name`: `true` or `false` in a file.
    Switch,
    /// `-v`, `-vv`: `true`, or a count, in a file.
    Count,
    /// `--name VALUE`, once.
    One,
    /// `--name VALUE`, repeatable: a list in a file.
    Many,
}

/// What a value in a file may be. Numbers are written as text to the
/// option's own parser, as on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    Text,
    Number,
    /// `baud = "auto"` or `baud = 9600`.
    TextOrNumber,
}

/// One long option of `serve`.
pub struct Opt {
    /// Without the dashes: `max-clients`.
    pub name: &'static str,
    pub kind: Kind,
    pub expect: Expect,
    /// Checks one value as the command line would.
    pub check: fn(&str) -> Result<(), ArgError>,
}

fn any(_: &str) -> Result<(), ArgError> {
    Ok(())
}

fn parsed<T: FromStr>(s: &str) -> Result<(), ArgError>
where
    ArgError: From<T::Err>,
{
    s.parse::<T>().map(drop).map_err(ArgError::from)
}

fn number<T: FromStr>(option: &'static str, s: &str) -> Result<(), ArgError> {
    s.parse::<T>().map(drop).map_err(|_| ArgError::Number {
        option,
        text: s.to_string(),
    })
}

impl From<std::convert::Infallible> for ArgError {
    fn from(never: std::convert::Infallible) -> ArgError {
        match never {}
    }
}

const fn opt(
    name: &'static str,
    kind: Kind,
    expect: Expect,
    check: fn(&str) -> Result<(), ArgError>,
) -> Opt {
    Opt {
        name,
        kind,
        expect,
        check,
    }
}

use Expect::{Number, Text, TextOrNumber};
use Kind::{Count, Many, One, Switch};

/// Every long option of `serve` but `--config` and `--help`.
pub const SERVE: &[Opt] = &[
    opt("device", One, Text, parsed::<Device>),
    opt("listen", Many, TextOrNumber, parsed::<ListenAddr>),
    opt("baud", One, TextOrNumber, |s| parse_baud(s).map(drop)),
    opt("framing", One, Text, |s| parse_framing(s).map(drop)),
    opt("forward", One, Text, parsed::<Forward>),
    opt("allow", Many, Text, parsed::<Cidr>),
    opt("max-clients", One, Number, |s| {
        number::<usize>("--max-clients", s)
    }),
    opt("client-buffer", One, TextOrNumber, |s| {
        parse_size(s).map(drop)
    }),
    opt("no-replay", Switch, Text, any),
    opt("key-file", One, Text, parsed::<PathBuf>),
    opt("auth-key-file", One, Text, parsed::<PathBuf>),
    opt("demo", Switch, Text, any),
    opt("verbose", Count, Number, any),
    opt("mqtt", One, Text, any),
    opt("mqtt-password-file", One, Text, parsed::<PathBuf>),
    opt("mqtt-ca", One, Text, parsed::<PathBuf>),
    opt("mqtt-topic", One, Text, any),
    opt("mqtt-id", One, Text, any),
    opt("mqtt-qos", One, Number, |s| number::<u8>("--mqtt-qos", s)),
    opt("mqtt-discovery-prefix", One, Text, any),
    opt("no-mqtt-discovery", Switch, Text, any),
    opt("mqtt-interval", One, Number, |s| {
        number::<u64>("--mqtt-interval", s)
    }),
    opt("http", Many, TextOrNumber, parsed::<ListenAddr>),
    opt("mdns", Switch, Text, any),
];

/// The option named `name` (without dashes).
pub fn find(name: &str) -> Option<&'static Opt> {
    SERVE.iter().find(|opt| opt.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argh::FromArgs;

    /// The table and `serve --help` name the same options.
    #[test]
    fn every_long_option_is_in_the_table() {
        let help = match super::super::Cli::from_args(&["p1mux"], &["serve", "--help"]) {
            Err(exit) => exit.output,
            Ok(_) => panic!("--help parsed"),
        };
        // The usage line: `[--device <device>] [-v] ...`.
        let usage = help.lines().next().unwrap_or("");
        let mut in_help: Vec<&str> = usage
            .split("[--")
            .skip(1)
            .filter_map(|item| item.split([' ', ']']).next())
            .filter(|name| *name != "config")
            .collect();
        in_help.push("verbose");
        in_help.sort();
        let mut in_table: Vec<&str> = SERVE.iter().map(|opt| opt.name).collect();
        in_table.sort();
        assert_eq!(in_help, in_table);
    }

    /// Each table entry is an option argh takes as the table says.
    #[test]
    fn the_table_matches_the_parser() {
        for opt in SERVE {
            let flag = format!("--{}", opt.name);
            let mut args = vec!["serve", flag.as_str()];
            let value = match opt.name {
                "device" => "demo",
                "listen" | "http" => "0",
                "baud" => "9600",
                "framing" => "8n1",
                "forward" => "all",
                "allow" => "10.0.0.0/8",
                "client-buffer" => "1M",
                "mqtt" => "mqtt://h",
                _ => "1",
            };
            if matches!(opt.kind, One | Many) {
                args.push(value);
                assert!((opt.check)(value).is_ok(), "{}", opt.name);
            }
            assert!(
                super::super::Cli::from_args(&["p1mux"], &args).is_ok(),
                "{args:?}"
            );
        }
    }
}
