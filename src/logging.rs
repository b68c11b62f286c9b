//! Log setup: stderr, `-v` for more, `RUST_LOG` to choose exactly.

use std::io::Write;

/// Logs at info, debug (`-v`) or trace (`-vv`) unless `RUST_LOG` says
/// otherwise; `-v` is about p1mux, so the crates under it stay at info.
/// Under systemd (JOURNAL_STREAM set) the journal adds its own
/// timestamps, so ours are left out.
pub fn init(verbose: u8) {
    let level = match verbose {
        0 => "info",
        1 => "info,p1mux=debug",
        _ => "info,p1mux=trace",
    };
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format(move |f, record| {
            if journald {
                writeln!(f, "{}: {}", record.level(), record.args())
            } else {
                writeln!(
                    f,
                    "{} {:5} {}",
                    f.timestamp_seconds(),
                    record.level(),
                    record.args()
                )
            }
        })
        .init();
}
