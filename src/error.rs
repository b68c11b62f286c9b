//! The one error type that ends p1mux: a failure to start.

use std::fmt;

/// A failure that stops p1mux from starting (exit status 1). Anything that
/// goes wrong later is logged and survived instead.
#[derive(Debug)]
pub struct StartError(pub String);

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

impl From<String> for StartError {
    fn from(message: String) -> StartError {
        StartError(message)
    }
}
