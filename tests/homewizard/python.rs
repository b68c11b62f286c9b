//! The Python that has python-homewizard-energy: `P1MUX_PYTHON_HOMEWIZARD`
//! (.ci/run makes one with the newest Python it finds, so that the newest
//! library, the one Home Assistant runs, is the judge), else
//! `P1MUX_PYTHON`, else `python3`. Used by tests/homewizard.rs and
//! tests/mdns.rs.

pub use crate::dsmr_parser::Python;
use crate::dsmr_parser::find_python_in;

/// The Python, if it runs `probe`; else why not, `lacks` saying what.
pub fn find(probe: &str, lacks: &str) -> Result<Python, String> {
    find_python_in(&["P1MUX_PYTHON_HOMEWIZARD", "P1MUX_PYTHON"], probe, lacks)
}

pub const INSTALL: &str = "run as root (tests/mdns.rs), pip install python-homewizard-energy \
                           zeroconf, or set \
                           P1MUX_PYTHON_HOMEWIZARD to a Python that has them (.ci/run makes \
                           one in target/ci-venv-homewizard)";
