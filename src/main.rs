#![forbid(unsafe_code)]

use std::process::ExitCode;

use p1mux::config::{self, Parsed};

fn main() -> ExitCode {
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
                eprintln!(
                    "{program}: argument {} ({}) is not valid UTF-8; give device paths in UTF-8, \
                     e.g. a /dev/serial/by-id/ link",
                    i + 1,
                    arg.to_string_lossy()
                );
                return ExitCode::from(2);
            }
        }
    }
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    match config::parse(&program, &rest) {
        Parsed::Print(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Parsed::Usage(text) => {
            eprintln!("{text}");
            ExitCode::from(2)
        }
        Parsed::Probe {
            device,
            seconds,
            keys,
        } => {
            p1mux::logging::init(0);
            ExitCode::from(p1mux::probe::run(
                &device,
                std::time::Duration::from_secs(seconds),
                &keys,
            ))
        }
        Parsed::Serve { config, verbose } => {
            p1mux::logging::init(verbose);
            match p1mux::gateway::run(*config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    log::error!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
