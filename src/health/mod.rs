//! How the gateway is doing: the counters behind the SIGUSR1 stats line,
//! the watch for an open source that yields no valid telegram, and the
//! status snapshot outputs show.

pub mod silence;
pub mod stats;
pub mod status;

pub use silence::{Quiet, SILENCE_LIMIT, Silence};
pub use stats::{Stats, human_duration, rejects_by_reason};
pub use status::{OutputStatus, SourceStatus, Status};
