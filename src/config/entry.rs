//! What a config file says, whatever its format: keys, their lines, and
//! values of the few kinds that options take.

/// A value in a config file, whatever the format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Number(i64),
    Bool(bool),
    List(Vec<Value>),
    /// JSON's null: the option is not set.
    Null,
    /// A nested JSON object (no option takes one; the Supervisor's answer
    /// has its `data` in one).
    Table(Vec<Entry>),
    /// A kind no option takes, by name ("a table").
    Other(&'static str),
}

impl Value {
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Text(_) => "text",
            Value::Number(_) => "a number",
            Value::Bool(_) => "true or false",
            Value::List(_) => "a list",
            Value::Null => "null",
            Value::Table(_) => "a table",
            Value::Other(what) => what,
        }
    }
}

/// One `key = value` of the file, with the line it is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub line: usize,
    pub value: Value,
}
