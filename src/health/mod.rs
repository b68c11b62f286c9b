//! How the meter side is doing: the counters behind the SIGUSR1 stats line,
//! and the watch for an open source that yields no valid telegram.

pub mod silence;
pub mod stats;

pub use silence::{Quiet, SILENCE_LIMIT, Silence};
pub use stats::{Stats, human_duration, rejects_by_reason};
