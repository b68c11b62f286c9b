//! `serve --config FILE`: options from a file, under the long options'
//! names. TOML, or JSON (a Home Assistant add-on's `/data/options.json`).
//!
//! The file becomes command-line words, each value checked by the same
//! parser as on the command line, so that the two never disagree; an
//! option given on the command line leaves the file's out. A file may also
//! hold the secrets that the command line refuses (`key`,
//! `mqtt-password`), if not every user can read it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::entry::{Entry, Value};
use super::error::{FileError, FileErrorKind};
use crate::cli::keys::{self, Expect, Kind};
use crate::encrypted::Key;
use crate::mqtt::config::Password;

/// Longest file read: settings, not a log file named by mistake.
const MAX_FILE: u64 = 1 << 20;

/// The options of a config file, checked.
#[derive(Debug)]
pub struct ConfigFile {
    pub path: PathBuf,
    /// Each option: its name, line, and values as command-line words
    /// (none for a switch, one per `-v`).
    pub options: Vec<(&'static str, usize, Vec<String>)>,
    /// `key`: the meter's key, and its line.
    pub key: Option<(Key, usize)>,
    /// `mqtt-password`, and its line.
    pub mqtt_password: Option<(Password, usize)>,
}

impl ConfigFile {
    /// Reads and checks `path`: JSON when its name ends in `.json` or its
    /// first character is `{`, TOML otherwise.
    pub fn read(path: &Path) -> Result<ConfigFile, FileError> {
        let fail = |line, key: Option<&str>, kind| FileError {
            path: path.to_owned(),
            line,
            key: key.map(str::to_string),
            kind,
        };
        let read = || -> std::io::Result<(String, u32)> {
            let file = File::open(path)?;
            let mode = file.metadata()?.permissions().mode();
            let mut text = String::new();
            file.take(MAX_FILE).read_to_string(&mut text)?;
            Ok((text, mode))
        };
        let (text, mode) = read().map_err(|e| fail(None, None, FileErrorKind::Read(e)))?;
        let json =
            path.extension().is_some_and(|e| e == "json") || text.trim_start().starts_with('{');
        let entries = if json {
            super::json::parse(&text)
        } else {
            toml_entries(&text)
        }
        .map_err(|(line, why)| fail(Some(line), None, FileErrorKind::Syntax(why)))?;
        let mut file = ConfigFile {
            path: path.to_owned(),
            options: Vec::new(),
            key: None,
            mqtt_password: None,
        };
        let mut seen = BTreeMap::new();
        for entry in entries {
            let err = |kind| fail(Some(entry.line), Some(&entry.key), kind);
            if seen.insert(entry.key.clone(), entry.line).is_some() {
                return Err(err(FileErrorKind::Twice));
            }
            file.add(&entry, json).map_err(err)?;
        }
        for (secret, file_option) in [("key", "key-file"), ("mqtt-password", "mqtt-password-file")]
        {
            if let (Some(&line), true) = (seen.get(secret), seen.contains_key(file_option)) {
                return Err(fail(
                    Some(line),
                    Some(secret),
                    FileErrorKind::Both { other: file_option },
                ));
            }
        }
        let secret = file.key.as_ref().map(|(_, line)| (*line, "key")).or(file
            .mqtt_password
            .as_ref()
            .map(|(_, line)| (*line, "mqtt-password")));
        if let Some((line, key)) = secret
            && mode & 0o004 != 0
        {
            return Err(fail(Some(line), Some(key), FileErrorKind::Exposed { mode }));
        }
        Ok(file)
    }

    /// Checks one entry and keeps it. JSON's null, and (in JSON, where an
    /// add-on's form leaves them) an empty text or list, leave it unset.
    fn add(&mut self, entry: &Entry, json: bool) -> Result<(), FileErrorKind> {
        let value = &entry.value;
        let unset = match value {
            Value::Null => true,
            Value::Text(t) => json && t.is_empty(),
            Value::List(items) => items.is_empty(),
            _ => false,
        };
        if unset {
            return Ok(());
        }
        let wrong = |expected| FileErrorKind::WrongType {
            expected,
            found: value.kind(),
        };
        match entry.key.as_str() {
            "config" => return Err(FileErrorKind::NotInFile),
            "key" => {
                let Value::Text(text) = value else {
                    return Err(wrong("text: 32 hex digits"));
                };
                let key = Key::parse_hex(text).map_err(FileErrorKind::Key)?;
                self.key = Some((key, entry.line));
                return Ok(());
            }
            "mqtt-password" => {
                let Value::Text(text) = value else {
                    return Err(wrong("text"));
                };
                let password = Password(text.as_bytes().to_vec());
                self.mqtt_password = Some((password, entry.line));
                return Ok(());
            }
            _ => {}
        }
        let Some(opt) = keys::find(&entry.key) else {
            return Err(FileErrorKind::UnknownKey {
                suggestion: suggest(&entry.key),
            });
        };
        let words = match (opt.kind, value) {
            (Kind::Switch, Value::Bool(true)) => Vec::new(),
            (Kind::Switch, Value::Bool(false)) => return Ok(()),
            (Kind::Switch, _) => return Err(wrong("true or false")),
            (Kind::Count, Value::Bool(on)) => vec![String::new(); usize::from(*on)],
            (Kind::Count, Value::Number(n @ 0..=3)) => vec![String::new(); *n as usize],
            (Kind::Count, _) => return Err(wrong("true, false or 0 to 3")),
            (Kind::One, value) => {
                vec![word(value, opt.expect).ok_or_else(|| wrong(expect(opt.expect)))?]
            }
            (Kind::Many, Value::List(items)) => items
                .iter()
                .map(|item| word(item, opt.expect))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| wrong(many(opt.expect)))?,
            // One address needs no brackets around it.
            (Kind::Many, value) => {
                vec![word(value, opt.expect).ok_or_else(|| wrong(many(opt.expect)))?]
            }
        };
        for w in &words {
            if matches!(opt.kind, Kind::One | Kind::Many) {
                (opt.check)(w).map_err(FileErrorKind::Value)?;
            }
        }
        self.options.push((opt.name, entry.line, words));
        Ok(())
    }

    /// The line of `option` (`--max-clients` or `mqtt-password`) if it
    /// came from this file.
    pub fn line_of(&self, option: &str) -> Option<usize> {
        let name = option.trim_start_matches("--");
        match name {
            "key" => self.key.as_ref().map(|(_, line)| *line),
            "mqtt-password" => self.mqtt_password.as_ref().map(|(_, line)| *line),
            _ => self
                .options
                .iter()
                .find(|(n, _, _)| *n == name)
                .map(|(_, line, _)| *line),
        }
    }

    /// The command-line words of this file's options that `given` (the
    /// words after `serve`) leaves to it. Of the options given on the
    /// command line, the file's are dropped: lists whole, switches too.
    pub fn words_under(&mut self, given: &[&str]) -> Vec<String> {
        let on_command_line = given_options(given);
        self.options
            .retain(|(name, _, _)| !on_command_line.contains(name));
        let mut words = Vec::new();
        for (name, _, values) in &self.options {
            let flag = format!("--{name}");
            match keys::find(name).map(|opt| opt.kind) {
                Some(Kind::Switch) => words.push(flag),
                Some(Kind::Count) => words.extend(values.iter().map(|_| flag.clone())),
                _ => {
                    for value in values {
                        words.push(flag.clone());
                        words.push(value.clone());
                    }
                }
            }
        }
        words
    }
}

/// The long options named in `words` (the words after `serve`).
fn given_options(words: &[&str]) -> Vec<&'static str> {
    let mut found = Vec::new();
    let mut words = words.iter();
    while let Some(word) = words.next() {
        if *word == "-v" {
            found.push("verbose");
            continue;
        }
        let Some(opt) = word.strip_prefix("--").and_then(keys::find) else {
            if *word == "--config" {
                words.next();
            }
            continue;
        };
        found.push(opt.name);
        if matches!(opt.kind, Kind::One | Kind::Many) {
            words.next();
        }
    }
    found
}

/// A value as one command-line word, if it has a type the option takes.
fn word(value: &Value, expect: Expect) -> Option<String> {
    match (value, expect) {
        (Value::Text(text), Expect::Text | Expect::TextOrNumber) => Some(text.clone()),
        (Value::Number(n), Expect::Number | Expect::TextOrNumber) => Some(n.to_string()),
        _ => None,
    }
}

fn expect(expect: Expect) -> &'static str {
    match expect {
        Expect::Text => "text",
        Expect::Number => "a whole number",
        Expect::TextOrNumber => "text or a number",
    }
}

fn many(expect: Expect) -> &'static str {
    match expect {
        Expect::Text => "a list of text",
        Expect::Number => "a list of numbers",
        Expect::TextOrNumber => "a list of text or numbers",
    }
}

/// The option a misspelt key most likely meant: `mqtt_topic`,
/// `--device`, `Device`.
fn suggest(key: &str) -> Option<&'static str> {
    let plain = key
        .trim_start_matches('-')
        .replace('_', "-")
        .to_ascii_lowercase();
    let plain = plain.as_str();
    ["key", "mqtt-password"]
        .into_iter()
        .chain(keys::SERVE.iter().map(|opt| opt.name))
        .find(|name| {
            *name == plain
                || name.strip_suffix('s') == Some(plain)
                || plain.strip_suffix('s') == Some(name)
        })
}

/// A TOML document's top-level entries. Tables and dates are kept as
/// [`Value::Other`]: no option takes one.
fn toml_entries(text: &str) -> Result<Vec<Entry>, (usize, String)> {
    use toml::de::{DeTable, DeValue};
    let line_of = |at: usize| {
        1 + text.as_bytes()[..at.min(text.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    };
    let table = DeTable::parse(text).map_err(|e| {
        let at = e.span().map_or(0, |span| span.start);
        (line_of(at), format!("not valid TOML: {}", e.message()))
    })?;
    fn value(v: &DeValue<'_>) -> Value {
        match v {
            DeValue::String(s) => Value::Text(s.to_string()),
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .map(Value::Number)
                .unwrap_or(Value::Other("a number out of range")),
            DeValue::Float(_) => Value::Other("a decimal number"),
            DeValue::Boolean(b) => Value::Bool(*b),
            DeValue::Datetime(_) => Value::Other("a date"),
            DeValue::Array(items) => {
                Value::List(items.iter().map(|i| value(i.get_ref())).collect())
            }
            DeValue::Table(_) => Value::Other("a table"),
        }
    }
    let mut entries: Vec<Entry> = table
        .get_ref()
        .iter()
        .map(|(key, v)| Entry {
            key: key.get_ref().to_string(),
            line: line_of(key.span().start),
            value: value(v.get_ref()),
        })
        .collect();
    // The parser's map is sorted by key; mistakes are told top down.
    entries.sort_by_key(|entry| entry.line);
    Ok(entries)
}
