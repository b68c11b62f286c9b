#![forbid(unsafe_code)]

use std::process::ExitCode;

use p1mux::config::{self, Parsed, Usage, UsageError};
use p1mux::error::Error;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            // The one place errors are printed. A usage error is said
            // before logging starts; a failure to start goes to the log.
            match &e {
                Error::Usage(e) => eprintln!("{e}"),
                Error::Start(e) => log::error!("{e}"),
            }
            ExitCode::from(e.exit_code())
        }
    }
}

fn run() -> Result<ExitCode, Error> {
    let mut args = std::env::args_os();
    let program = args
        .next()
        .map(|p| {
            p.to_string_lossy()
                .rsplit('/')
                .next()
                .unwrap_or("p1mux")
                .to_string()
        })
        .unwrap_or_else(|| "p1mux".into());
    // argh takes text; a path that is not valid UTF-8 is a usage error, not a panic.
    let mut rest = Vec::new();
    for (i, arg) in args.enumerate() {
        match arg.into_string() {
            Ok(arg) => rest.push(arg),
            Err(arg) => {
                return Err(UsageError {
                    command: program,
                    usage: Usage::NotUtf8 {
                        index: i + 1,
                        shown: arg.to_string_lossy().into_owned(),
                    },
                }
                .into());
            }
        }
    }
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    match config::parse(&program, &rest) {
        Parsed::Print(text) => {
            println!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Parsed::Usage(e) => Err(e.into()),
        Parsed::Probe {
            device,
            seconds,
            keys,
        } => {
            p1mux::logging::init(0);
            Ok(ExitCode::from(p1mux::probe::run(
                &device,
                std::time::Duration::from_secs(seconds),
                &keys,
            )))
        }
        Parsed::Serve { config, verbose } => {
            p1mux::logging::init(verbose);
            p1mux::gateway::run(*config)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
