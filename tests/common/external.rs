//! Tests against the real thing: Home Assistant's dsmr_parser today,
//! mosquitto, headless Chromium or promtool tomorrow.
//!
//! When the tool is missing, bare `cargo test` lists each such test as
//! `ignored`, with what is missing and how to install it; with
//! `P1MUX_REQUIRE_ALL=1` (set by `.ci/run`) or the tool's own variable
//! set to 1, a missing tool fails them instead. A test that cannot run
//! never passes quietly.
//!
//! The built-in test harness cannot ignore a test at run time, so a file
//! of such tests turns it off and runs its tests with libtest-mimic, which
//! prints, filters and counts them as the built-in harness does:
//!
//! ```text
//! # Cargo.toml
//! [[test]]
//! name = "mqtt"
//! harness = false
//!
//! // tests/mqtt.rs
//! mod common;
//! use common::external::{Tool, needs, plain, run};
//!
//! static MOSQUITTO: Tool<PathBuf> = Tool::new(
//!     "mosquitto (the MQTT broker)",
//!     "P1MUX_REQUIRE_MOSQUITTO",
//!     "apt-get install mosquitto",
//!     find_mosquitto, // fn() -> Result<PathBuf, String>: the program, or why not
//! );
//!
//! fn main() -> ExitCode {
//!     run(vec![
//!         needs(&MOSQUITTO, "publishes_every_telegram", publishes_every_telegram),
//!         plain("topic_names_are_valid", topic_names_are_valid),
//!     ])
//! }
//!
//! fn publishes_every_telegram(mosquitto: &PathBuf) { ... } // panics to fail
//! ```

use std::process::ExitCode;
use std::sync::OnceLock;

use libtest_mimic::{Arguments, Completion, Trial};

/// Makes every missing tool a failure: CI, which installs them all.
pub const REQUIRE_ALL: &str = "P1MUX_REQUIRE_ALL";

/// A program or library some tests need, looked for once per test binary.
pub struct Tool<T: 'static> {
    /// What it is, for messages: "Home Assistant's dsmr_parser".
    name: &'static str,
    /// The variable that, set to 1, makes its absence a failure, besides
    /// [`REQUIRE_ALL`].
    require: &'static str,
    /// How to get it, for the skip message.
    install: &'static str,
    /// Looks for it: what the tests need to use it (a path, a command
    /// line), or why it is not there.
    find: fn() -> Result<T, String>,
    found: OnceLock<Result<T, String>>,
}

impl<T: Send + Sync> Tool<T> {
    pub const fn new(
        name: &'static str,
        require: &'static str,
        install: &'static str,
        find: fn() -> Result<T, String>,
    ) -> Tool<T> {
        Tool {
            name,
            require,
            install,
            find,
            found: OnceLock::new(),
        }
    }

    fn get(&self) -> &Result<T, String> {
        self.found.get_or_init(self.find)
    }

    /// The variable set to 1 that makes this tool required, if any.
    fn required_by(&self) -> Option<&'static str> {
        [REQUIRE_ALL, self.require]
            .into_iter()
            .find(|var| std::env::var(var).is_ok_and(|v| v == "1"))
    }
}

/// A test that needs `tool`: run with what was found; ignored with the
/// reason when the tool is missing; failed when it is missing but required.
pub fn needs<T: Send + Sync>(tool: &'static Tool<T>, name: &str, test: fn(&T)) -> Trial {
    Trial::ignorable_test(name, move || match tool.get() {
        Ok(found) => {
            test(found);
            Ok(Completion::Completed)
        }
        Err(why) => {
            let missing = format!("needs {}: {why}; install: {}", tool.name, tool.install);
            match tool.required_by() {
                Some(var) => Err(format!("{missing} ({var}=1: required)").into()),
                None => Ok(Completion::ignored_with(missing)),
            }
        }
    })
}

/// A test in the same file that needs nothing.
pub fn plain(name: &str, test: fn()) -> Trial {
    Trial::test(name, move || {
        test();
        Ok(())
    })
}

/// The test binary's `main`: runs `trials` under the usual command line
/// (filters, `--list`, `--test-threads`...).
pub fn run(trials: Vec<Trial>) -> ExitCode {
    libtest_mimic::run(&Arguments::from_args(), trials).exit_code()
}
