//! `--forward`: what is sent to clients. A leaf, so that the command line
//! that parses it and the pipeline that obeys it share one type without
//! either importing the other.

use std::fmt;
use std::str::FromStr;

/// What is sent to clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forward {
    /// Only telegrams that passed every check.
    Valid,
    /// Every complete telegram, including those with a wrong CRC.
    All,
    /// The bytes exactly as read from the port, telegram-unaware.
    Raw,
}

/// A forward mode that does not exist, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardError(pub String);

impl fmt::Display for ForwardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown forward mode '{}': use valid, all or raw",
            self.0
        )
    }
}

impl std::error::Error for ForwardError {}

impl FromStr for Forward {
    type Err = ForwardError;
    fn from_str(s: &str) -> Result<Self, ForwardError> {
        match s.to_ascii_lowercase().as_str() {
            "valid" => Ok(Forward::Valid),
            "all" => Ok(Forward::All),
            "raw" => Ok(Forward::Raw),
            _ => Err(ForwardError(s.to_string())),
        }
    }
}
