//! `p1mux probe`'s command line.

use std::path::PathBuf;

use argh::FromArgs;

use super::ArgError;

#[derive(FromArgs, Debug)]
/// Find out what a P1 cable delivers, and how to read it.
///
/// Tries each serial setting in turn, prints what each one gave, and ends
/// with a verdict in plain words and the `p1mux serve` command to run.
/// Exit status: 0 when a working setting was found, 1 when not, 2 on usage errors.
#[argh(
    subcommand,
    name = "probe",
    help_triggers("-h", "--help"),
    example = "p1mux probe --device /dev/ttyUSB0"
)]
pub struct ProbeArgs {
    /// serial device of the P1 cable (default /dev/ttyUSB0)
    #[argh(option, default = "PathBuf::from(\"/dev/ttyUSB0\")")]
    pub device: PathBuf,

    /// longest time to listen with each setting, in seconds (default 12: a
    /// DSMR 2.2-4 meter sends every 10 s)
    #[argh(option, default = "12", from_str_fn(parse_seconds))]
    pub seconds: u64,

    /// file holding the key of an encrypted meter, to check that it fits
    /// (as for serve; default $CREDENTIALS_DIRECTORY/p1mux-key)
    #[argh(option, arg_name = "path")]
    pub key_file: Option<PathBuf>,

    /// file holding the meter's authentication key, if the grid operator
    /// gave one (as for serve)
    #[argh(option, arg_name = "path")]
    pub auth_key_file: Option<PathBuf>,
}

fn parse_seconds(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if (1..=3600).contains(&n) => Ok(n),
        // argh takes the message as text.
        _ => Err(ArgError::Seconds(s.to_string()).to_string()),
    }
}
