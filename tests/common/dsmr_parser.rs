//! Home Assistant's dsmr_parser as a client of p1mux, for
//! tests/dsmr_parser.rs (Dutch meters) and tests/dsmr_parser_encrypted.rs
//! (an encrypted Luxembourg Smarty): the Python that has it, and the reader
//! script tests/consumers/dsmr_parser_reader.py, which connects the way
//! Home Assistant does and prints what it parsed.
//!
//! Included by those two files only (`#[path]`), not by tests/common/mod.rs.
#![allow(dead_code)] // each of the two uses one kind of meter

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

const READER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/consumers/dsmr_parser_reader.py"
);

/// The variable that makes a missing dsmr_parser a failure.
pub const REQUIRE: &str = "P1MUX_REQUIRE_DSMR_PARSER";

/// How to get it, for the skip message.
pub const INSTALL: &str = "pip install dsmr_parser==1.11.2, or set P1MUX_PYTHON to a Python that has it \
                           (.ci/run makes one in target/ci-venv)";

/// A Python that has dsmr_parser.
pub struct Python(pub String);

/// `P1MUX_PYTHON`, else `python3`, if it runs `probe` (Python code that
/// imports what the tests need); else why not, `lacks` saying what it lacks.
pub fn find_python(probe: &str, lacks: &str) -> Result<Python, String> {
    find_python_in(&["P1MUX_PYTHON"], probe, lacks)
}

/// The first of the environment variables `vars` that is set, else
/// `python3`, if it runs `probe`; else why not.
pub fn find_python_in(vars: &[&str], probe: &str, lacks: &str) -> Result<Python, String> {
    let python = vars
        .iter()
        .find_map(|var| std::env::var(var).ok())
        .unwrap_or_else(|| "python3".into());
    match Command::new(&python)
        .args(["-c", probe])
        .stderr(Stdio::null())
        .status()
    {
        Ok(status) if status.success() => Ok(Python(python)),
        Ok(_) => Err(format!("{python} cannot import {lacks}")),
        Err(e) => Err(format!("cannot run {python}: {e}")),
    }
}

/// How the reader reads the meter.
#[derive(Clone, Copy)]
pub enum Meter<'a> {
    /// A Dutch meter's values: tariffs, gas, time stamps.
    Dutch,
    /// A Luxembourg Smarty's values; with the keys (encryption key,
    /// authentication key, hex) dsmr_parser decrypts the frames itself.
    Smarty(Option<(&'a str, &'a str)>),
}

/// The Python reader, connected to 127.0.0.1:`port`; killed when dropped.
pub struct Reader {
    child: Child,
    lines: std::io::Lines<BufReader<ChildStdout>>,
}

impl Reader {
    /// Starts it for `count` telegrams as DSMR `version`.
    pub fn start(python: &Python, port: u16, version: &str, count: usize, meter: Meter) -> Reader {
        let mut cmd = Command::new(&python.0);
        cmd.arg(READER);
        if let Meter::Smarty(keys) = meter {
            cmd.arg("--smarty");
            if let Some((key, ak)) = keys {
                cmd.args(["--key", key, ak]);
            }
        }
        cmd.args(["127.0.0.1", &port.to_string(), version, &count.to_string()]);
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting the dsmr_parser reader");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Reader { child, lines }
    }

    /// The next line it printed; the script times out by itself.
    pub fn line(&mut self) -> String {
        match self.lines.next() {
            Some(Ok(line)) => line,
            other => panic!("the dsmr_parser reader ended early: {other:?}"),
        }
    }

    /// What it read of the next telegram: the key=value pairs of its line.
    pub fn values(&mut self) -> BTreeMap<String, String> {
        parse_line(&self.line())
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse_line(line: &str) -> BTreeMap<String, String> {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A number as dsmr_parser prints its Decimal: no leading zeros, trailing
/// ones kept.
pub fn decimal(text: &str) -> String {
    let trimmed = text.trim_start_matches('0');
    if trimmed.is_empty() || trimmed.starts_with('.') {
        format!("0{trimmed}")
    } else {
        trimmed.to_string()
    }
}
