use std::process::ExitCode;

use p1mux::config::{self, Parsed};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let program = args
        .first()
        .map_or("p1mux", |p| p.rsplit('/').next().unwrap_or(p));
    let rest: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    match config::parse(program, &rest) {
        Parsed::Print(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Parsed::Usage(text) => {
            eprintln!("{text}");
            ExitCode::from(2)
        }
        Parsed::Probe { device, seconds } => {
            p1mux::logging::init(0);
            ExitCode::from(p1mux::probe::run(
                &device,
                std::time::Duration::from_secs(seconds),
            ))
        }
        Parsed::Serve { config, verbose } => {
            p1mux::logging::init(verbose);
            match p1mux::gateway::run(config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    log::error!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
