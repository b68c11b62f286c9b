//! From the command line to what `main` does: parse it ([`crate::cli`]),
//! merge a config file under it ([`super::file`]), validate it
//! ([`Config::from_args`]), or say what is wrong.

use std::fmt;
use std::path::PathBuf;

use argh::FromArgs;

use super::error::{ConfigError, FileError, FileErrorKind};
use super::file::ConfigFile;
use super::{Config, KeyFiles};
use crate::cli::{Cli, Command, ServeArgs};

/// What `main` should do after looking at the command line.
#[derive(Debug)]
pub enum Parsed {
    Serve {
        config: Box<Config>,
        verbose: u8,
    },
    Probe {
        device: PathBuf,
        seconds: u64,
        /// `--key-file` and `--auth-key-file`, checked like serve's.
        keys: KeyFiles,
    },
    /// Print this to stdout and exit 0 (help, version).
    Print(String),
    /// Print this to stderr and exit 2.
    Usage(UsageError),
}

/// A mistake in what p1mux was told: exit status 2.
#[derive(Debug)]
pub struct UsageError {
    /// `p1mux`, `p1mux serve` or `p1mux probe`: what the message is about.
    pub command: String,
    pub usage: Usage,
}

/// What the mistake is.
#[derive(Debug)]
pub enum Usage {
    /// The argument parser's own message (an unknown option, a bad value).
    Args(String),
    NoCommand,
    /// `probe` of a `tcp://` source.
    ProbeNetwork,
    /// An argument that is not UTF-8 (counted from 1), shown lossily.
    NotUtf8 {
        index: usize,
        shown: String,
    },
    Config(ConfigError),
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let command = &self.command;
        match &self.usage {
            Usage::Args(text) => write!(
                f,
                "{}\nRun `{command} --help` for the options.",
                text.trim_end()
            ),
            Usage::NoCommand => write!(
                f,
                "{command}: no command given. Run `{command} serve --help`, or `{command} serve \
                 --demo` to try it."
            ),
            Usage::ProbeNetwork => write!(
                f,
                "{command}: probe tries serial settings on a local port; for a network source \
                 run `nc HOST PORT` and look for telegrams starting with '/'"
            ),
            Usage::NotUtf8 { index, shown } => write!(
                f,
                "{command}: argument {index} ({shown}) is not valid UTF-8; give device paths in \
                 UTF-8, e.g. a /dev/serial/by-id/ link"
            ),
            Usage::Config(e) => write!(f, "{command}: {e}"),
        }
    }
}

impl std::error::Error for UsageError {}

/// Parses `args` (without the program name).
pub fn parse(program: &str, args: &[&str]) -> Parsed {
    // argh takes one short switch per argument; users write -vv.
    let args: Vec<&str> = args
        .iter()
        .flat_map(|&arg| {
            let many_v =
                arg.len() > 2 && arg.starts_with('-') && arg[1..].bytes().all(|b| b == b'v');
            let count = if many_v { arg.len() - 1 } else { 1 };
            std::iter::repeat_n(if many_v { "-v" } else { arg }, count)
        })
        .collect();
    let usage = |command: String, usage| Parsed::Usage(UsageError { command, usage });
    let cli = match Cli::from_args(&[program], &args) {
        Ok(cli) => cli,
        Err(exit) if exit.status.is_ok() => return Parsed::Print(exit.output),
        Err(exit) => {
            let command = match args.first() {
                Some(&c) if c == "serve" || c == "probe" => format!("{program} {c}"),
                _ => program.to_string(),
            };
            return usage(command, Usage::Args(exit.output));
        }
    };
    if cli.version {
        return Parsed::Print(format!("p1mux {}", env!("CARGO_PKG_VERSION")));
    }
    match cli.command {
        None => usage(program.to_string(), Usage::NoCommand),
        Some(Command::Probe(args))
            if args
                .device
                .to_str()
                .is_some_and(|d| d.starts_with("tcp://")) =>
        {
            usage(format!("{program} probe"), Usage::ProbeNetwork)
        }
        Some(Command::Probe(args)) => {
            match KeyFiles::from_args(args.key_file, args.auth_key_file) {
                Ok(keys) => Parsed::Probe {
                    device: args.device,
                    seconds: args.seconds,
                    keys,
                },
                Err(e) => usage(format!("{program} probe"), Usage::Config(e)),
            }
        }
        Some(Command::Serve(serve)) => {
            let command = format!("{program} serve");
            match serve_config(program, serve, &args[1..]) {
                Ok(parsed) => parsed,
                Err(usage) => Parsed::Usage(UsageError { command, usage }),
            }
        }
    }
}

/// `serve`'s settings: the command line's, over the config file's if
/// `--config` names one. `given` is the words after `serve`.
fn serve_config(program: &str, args: ServeArgs, given: &[&str]) -> Result<Parsed, Usage> {
    let (args, file) = match &args.config {
        None => (args, None),
        Some(path) => {
            let mut file = ConfigFile::read(path).map_err(|e| Usage::Config(e.into()))?;
            let words = file.words_under(given);
            let mut all: Vec<&str> = vec!["serve"];
            all.extend(words.iter().map(String::as_str));
            all.extend_from_slice(given);
            // Every value was checked alone; together they parse as one
            // command line, unless the command line itself is wrong.
            match Cli::from_args(&[program], &all) {
                Ok(Cli {
                    command: Some(Command::Serve(args)),
                    ..
                }) => (args, Some(file)),
                Ok(_) => return Err(Usage::Args("not a serve command".into())),
                Err(exit) => return Err(Usage::Args(exit.output)),
            }
        }
    };
    let verbose = args.verbose;
    match Config::from_args(args, file.as_ref()) {
        Ok(config) => Ok(Parsed::Serve {
            config: Box::new(config),
            verbose,
        }),
        // A mistake in an option from the file: say where it is.
        Err(e) => Err(Usage::Config(
            match (
                &file,
                e.option()
                    .map(|o| (o, file.as_ref().and_then(|f| f.line_of(o)))),
            ) {
                (Some(file), Some((option, Some(line)))) => ConfigError::File(FileError {
                    path: file.path.clone(),
                    line: Some(line),
                    key: Some(option.trim_start_matches("--").to_string()),
                    kind: FileErrorKind::Setting(Box::new(e)),
                }),
                _ => e,
            },
        )),
    }
}
