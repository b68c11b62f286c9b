//! `DomoticzP1` models Domoticz's TCP reader and P1 parser as
//! ../shared/reference/domoticz-p1.md describes them (and as
//! hardware/P1MeterBase.cpp behaves): 4096-byte reads handed to the parser
//! unchanged; while idle, leading bytes below 0x10 are skipped and the next
//! byte must be '/', else the whole read is thrown away; after the '!'
//! line the parser is idle and the rest of that read is dropped; '/' to
//! '!' must fit in 2000 bytes; the CRC is checked only once a CR was seen
//! (with the crc crate, as Domoticz has its own: none of p1mux's code).

use p1mux_testkit::{SAMPLES, corrupt, crc16};

/// Domoticz's message buffer: '/' through '!' must fit.
const MESSAGE_BUFFER: usize = 2000;
/// Domoticz's line buffer: longer lines are not interpreted.
const LINE_BUFFER: usize = 128;
/// Domoticz's read size.
pub(crate) const READ_SIZE: usize = 4096;

/// Domoticz's P1 parser state, per connection.
#[derive(Default)]
pub(crate) struct DomoticzP1 {
    /// 0 while idle (waiting for a '/' at the start of a read).
    linecount: usize,
    /// '/' through '!' of the telegram being assembled.
    message: Vec<u8>,
    bang_found: bool,
    line: Vec<u8>,
    /// A CR was seen on this connection: only then is the CRC checked.
    pub(crate) cr_found: bool,
    /// Telegrams accepted, '/' through '!'.
    pub(crate) accepted: Vec<Vec<u8>>,
    /// Telegrams that started but were dismissed (CRC, oversize).
    pub(crate) dismissed: usize,
    /// Reads thrown away whole because they did not begin with '/'.
    pub(crate) reads_ignored: usize,
}

impl DomoticzP1 {
    /// One read's worth of bytes, as P1MeterTCP hands it to ParseData.
    pub(crate) fn parse(&mut self, data: &[u8]) {
        let mut i = 0;
        if self.linecount == 0 {
            while i < data.len() && data[i] < 0x10 {
                i += 1;
            }
        }
        if i < data.len() && data[i] == b'/' {
            self.linecount = 1;
            self.message.clear();
            self.line.clear();
            self.bang_found = false;
        } else if self.linecount == 0 {
            self.reads_ignored += usize::from(i < data.len());
            return;
        }
        // Assemble '/' .. '!' in the message buffer.
        while i < data.len() && !self.bang_found && self.message.len() < MESSAGE_BUFFER {
            self.message.push(data[i]);
            self.bang_found = data[i] == b'!';
            i += 1;
        }
        if self.message.len() == MESSAGE_BUFFER {
            self.dismissed += 1;
            self.linecount = 0;
            return;
        }
        // Then the lines, from the start of the read.
        for &c in data {
            if self.linecount == 0 {
                // After the '!' line: the rest of this read is dropped.
                return;
            }
            match c {
                b'\r' => self.cr_found = true,
                b'\n' => {
                    self.linecount += 1;
                    if !self.line.is_empty() && self.line.len() < LINE_BUFFER {
                        self.end_line();
                    }
                    self.line.clear();
                }
                _ if self.line.len() < LINE_BUFFER => self.line.push(c),
                _ => {}
            }
        }
    }

    fn end_line(&mut self) {
        if self.line[0] != b'!' {
            return;
        }
        if !self.crc_ok() {
            self.dismissed += 1;
        } else {
            self.accepted.push(self.message.clone());
        }
        self.linecount = 0;
    }

    fn crc_ok(&self) -> bool {
        let digits = &self.line[1..];
        if digits.is_empty() {
            return true; // DSMR 2.2/3.0
        }
        if digits.len() > 4 {
            return false; // "trailing characters"
        }
        if !self.cr_found {
            return true; // "middleware that changes the message content"
        }
        let sent = std::str::from_utf8(digits)
            .ok()
            .and_then(|s| u16::from_str_radix(s, 16).ok());
        sent == Some(crc16(&self.message))
    }
}

/// '/' through '!' of a whole telegram: what Domoticz keeps of it.
pub(crate) fn through_bang(telegram: &[u8]) -> &[u8] {
    let bang = telegram.iter().rposition(|&b| b == b'!').unwrap();
    &telegram[..=bang]
}

#[test]
fn the_model_loses_what_domoticz_loses() {
    let (a, b) = (SAMPLES[5], SAMPLES[6]);
    let mut good = DomoticzP1::default();
    good.parse(a);
    good.parse(b"\r\n");
    good.parse(b);
    assert_eq!(good.accepted, vec![through_bang(a), through_bang(b)]);

    // A byte-stream gateway: the tail of one telegram and the head of the
    // next in one read loses the second; a banner loses the first.
    let mut glued = DomoticzP1::default();
    let cut = 300;
    glued.parse(&a[..cut]);
    glued.parse(&[&a[cut..], &b[..cut]].concat());
    glued.parse(&b[cut..]);
    assert_eq!(glued.accepted, vec![through_bang(a)]);
    assert_eq!(glued.reads_ignored, 1);
    let mut banner = DomoticzP1::default();
    banner.parse(&[b"Welcome to ser2net\r\n".as_slice(), a].concat());
    assert!(banner.accepted.is_empty());

    // A corrupted telegram is dismissed; one without CRs skips the check.
    let mut crc = DomoticzP1::default();
    crc.parse(&corrupt(a));
    assert_eq!((crc.accepted.len(), crc.dismissed), (0, 1));
    let mut oversize = DomoticzP1::default();
    let big: Vec<u8> = [&a[..200], &vec![b'x'; 2000], &a[200..]].concat();
    oversize.parse(&big);
    assert_eq!((oversize.accepted.len(), oversize.dismissed), (0, 1));
}
