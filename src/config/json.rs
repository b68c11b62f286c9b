//! A JSON reader for one object, the shape of a Home Assistant add-on's
//! `/data/options.json` (and of the Supervisor's answers), that keeps the
//! line of every key so that a wrong value is reported where it is.
//! (serde_json drops positions once a document has parsed.)

use super::entry::{Entry, Value};

/// Deeper nesting than this is refused rather than recursed into.
const MAX_DEPTH: usize = 32;

/// The object's entries in order, or the line of a syntax error and why.
pub fn parse(text: &str) -> Result<Vec<Entry>, (usize, String)> {
    let mut reader = Reader {
        text: text.as_bytes(),
        at: 0,
    };
    let entries = reader.object(0)?;
    reader.blank();
    if reader.at < reader.text.len() {
        return Err(reader.fail("text after the closing '}'"));
    }
    Ok(entries)
}

struct Reader<'a> {
    text: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn line_at(&self, at: usize) -> usize {
        1 + self.text[..at.min(self.text.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    }

    fn fail(&self, why: &str) -> (usize, String) {
        (self.line_at(self.at), format!("not valid JSON: {why}"))
    }

    fn blank(&mut self) {
        while self
            .text
            .get(self.at)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), (usize, String)> {
        self.blank();
        if self.text.get(self.at) == Some(&byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.fail(&format!("expected '{}'", byte as char)))
        }
    }

    /// `{ "key": value, ... }`, at the top level or nested `depth` deep.
    fn object(&mut self, depth: usize) -> Result<Vec<Entry>, (usize, String)> {
        self.expect(b'{')?;
        let mut entries = Vec::new();
        self.blank();
        if self.text.get(self.at) == Some(&b'}') {
            self.at += 1;
            return Ok(entries);
        }
        loop {
            self.blank();
            let line = self.line_at(self.at);
            if self.text.get(self.at) != Some(&b'"') {
                return Err(self.fail("expected a key in double quotes"));
            }
            let key = self.string()?;
            self.expect(b':')?;
            let value = self.value(depth + 1)?;
            entries.push(Entry { key, line, value });
            self.blank();
            match self.text.get(self.at) {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(entries);
                }
                _ => return Err(self.fail("expected ',' or '}'")),
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, (usize, String)> {
        if depth > MAX_DEPTH {
            return Err(self.fail("nested too deep"));
        }
        self.blank();
        match self.text.get(self.at) {
            Some(b'"') => self.string().map(Value::Text),
            Some(b'[') => {
                self.at += 1;
                let mut items = Vec::new();
                self.blank();
                if self.text.get(self.at) == Some(&b']') {
                    self.at += 1;
                    return Ok(Value::List(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.blank();
                    match self.text.get(self.at) {
                        Some(b',') => self.at += 1,
                        Some(b']') => {
                            self.at += 1;
                            return Ok(Value::List(items));
                        }
                        _ => return Err(self.fail("expected ',' or ']'")),
                    }
                }
            }
            Some(b'{') => self.object(depth).map(Value::Table),
            Some(b't') => self.word("true", Value::Bool(true)),
            Some(b'f') => self.word("false", Value::Bool(false)),
            Some(b'n') => self.word("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.fail("expected a value")),
        }
    }

    fn word(&mut self, word: &str, value: Value) -> Result<Value, (usize, String)> {
        if self.text[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.fail("expected a value"))
        }
    }

    fn number(&mut self) -> Result<Value, (usize, String)> {
        let start = self.at;
        while self
            .text
            .get(self.at)
            .is_some_and(|b| matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
        {
            self.at += 1;
        }
        let text = std::str::from_utf8(&self.text[start..self.at]).unwrap_or("");
        if let Ok(n) = text.parse::<i64>() {
            Ok(Value::Number(n))
        } else if text.parse::<f64>().is_ok() {
            Ok(Value::Other("a decimal number"))
        } else {
            self.at = start;
            Err(self.fail("not a number"))
        }
    }

    /// A string at `"`, escapes resolved.
    fn string(&mut self) -> Result<String, (usize, String)> {
        self.at += 1;
        let mut out = Vec::new();
        loop {
            let Some(&byte) = self.text.get(self.at) else {
                return Err(self.fail("a string without its closing '\"'"));
            };
            self.at += 1;
            match byte {
                b'"' => break,
                b'\\' => {
                    let Some(&escape) = self.text.get(self.at) else {
                        return Err(self.fail("a string without its closing '\"'"));
                    };
                    self.at += 1;
                    let c = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode()?,
                        _ => return Err(self.fail("an unknown escape")),
                    };
                    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                }
                0..=0x1f => return Err(self.fail("a control character in a string")),
                _ => out.push(byte),
            }
        }
        // The input is a &str, and escapes add whole characters.
        String::from_utf8(out).map_err(|_| self.fail("not UTF-8"))
    }

    /// After `\u`: four hex digits, or a surrogate pair of them.
    fn unicode(&mut self) -> Result<char, (usize, String)> {
        let first = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&first) {
            if !self.text[self.at..].starts_with(b"\\u") {
                return Err(self.fail("a lone surrogate in \\u"));
            }
            self.at += 2;
            let second = self.hex4()?;
            if !(0xDC00..0xE000).contains(&second) {
                return Err(self.fail("a lone surrogate in \\u"));
            }
            0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        } else {
            first
        };
        char::from_u32(code).ok_or_else(|| self.fail("a lone surrogate in \\u"))
    }

    fn hex4(&mut self) -> Result<u32, (usize, String)> {
        let digits = self
            .text
            .get(self.at..self.at + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u32::from_str_radix(d, 16).ok())
            .ok_or_else(|| self.fail("expected four hex digits after \\u"))?;
        self.at += 4;
        Ok(digits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_flat_object_with_lines() {
        let entries = parse(
            "{\n  \"device\": \"/dev/tty\\u0055SB0\",\n  \"listen\": [\"0.0.0.0:2001\", 2002],\n  \
             \"demo\": false, \"mqtt\": null,\n  \"max-clients\": 8, \"x\": {\"a\": [1.5]}\n}\n",
        )
        .unwrap();
        let got: Vec<(&str, usize)> = entries.iter().map(|e| (e.key.as_str(), e.line)).collect();
        assert_eq!(
            got,
            [
                ("device", 2),
                ("listen", 3),
                ("demo", 4),
                ("mqtt", 4),
                ("max-clients", 5),
                ("x", 5)
            ]
        );
        assert_eq!(entries[0].value, Value::Text("/dev/ttyUSB0".into()));
        assert_eq!(
            entries[1].value,
            Value::List(vec![
                Value::Text("0.0.0.0:2001".into()),
                Value::Number(2002)
            ])
        );
        assert_eq!(entries[3].value, Value::Null);
        let Value::Table(inner) = &entries[5].value else {
            panic!("{:?}", entries[5].value)
        };
        assert_eq!(
            (inner[0].key.as_str(), inner[0].line),
            ("a", 5),
            "a nested object keeps its keys"
        );
        assert_eq!(
            parse(r#"{"a": "\ud83d\ude00"}"#).unwrap()[0].value,
            Value::Text("😀".into())
        );
    }

    #[test]
    fn syntax_errors_have_lines() {
        for (text, line) in [
            ("", 1),
            ("[]", 1),
            ("{\n\"a\": 1,\n}", 3),
            ("{\"a\" 1}", 1),
            ("{\"a\": tru}", 1),
            ("{\"a\": \"x}", 1),
            ("{\"a\": 1} x", 1),
            ("{\n\"a\": \"\\ud800\"}", 2),
            ("{\"a\": -}", 1),
        ] {
            let (at, why) = parse(text).unwrap_err();
            assert_eq!(at, line, "{text:?}: {why}");
            assert!(why.starts_with("not valid JSON"), "{why}");
        }
        let deep = format!("{{\"a\": {}{}}}", "[".repeat(100), "]".repeat(100));
        assert!(parse(&deep).is_err());
    }
}
