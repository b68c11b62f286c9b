//! From the command line to what `main` does: parse it ([`crate::cli`]),
//! validate it ([`Config::from_args`]), or say what is wrong.

use std::path::PathBuf;

use argh::FromArgs;

use super::{Config, KeyFiles};
use crate::cli::{Cli, Command};

/// What `main` should do after looking at the command line.
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
    Usage(String),
}

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
    let cli = match Cli::from_args(&[program], &args) {
        Ok(cli) => cli,
        Err(exit) if exit.status.is_ok() => return Parsed::Print(exit.output),
        Err(exit) => {
            let command = match args.first() {
                Some(&c) if c == "serve" || c == "probe" => format!("{program} {c}"),
                _ => program.to_string(),
            };
            return Parsed::Usage(format!(
                "{}\nRun `{command} --help` for the options.",
                exit.output.trim_end()
            ));
        }
    };
    if cli.version {
        return Parsed::Print(format!("p1mux {}", env!("CARGO_PKG_VERSION")));
    }
    match cli.command {
        None => Parsed::Usage(format!(
            "{program}: no command given. Run `{program} serve --help`, or `{program} serve --demo` to try it."
        )),
        Some(Command::Probe(args))
            if args
                .device
                .to_str()
                .is_some_and(|d| d.starts_with("tcp://")) =>
        {
            Parsed::Usage(format!(
                "{program} probe: probe tries serial settings on a local port; for a network source \
             run `nc HOST PORT` and look for telegrams starting with '/'"
            ))
        }
        Some(Command::Probe(args)) => {
            match KeyFiles::from_args(args.key_file, args.auth_key_file) {
                Ok(keys) => Parsed::Probe {
                    device: args.device,
                    seconds: args.seconds,
                    keys,
                },
                Err(msg) => Parsed::Usage(format!("{program} probe: {msg}")),
            }
        }
        Some(Command::Serve(args)) => {
            let verbose = args.verbose;
            match Config::from_args(args) {
                Ok(config) => Parsed::Serve {
                    config: Box::new(config),
                    verbose,
                },
                Err(msg) => Parsed::Usage(format!("{program} serve: {msg}")),
            }
        }
    }
}
