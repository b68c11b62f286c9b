//! What is wrong when no setting yields a valid telegram, in plain words.
//!
//! One diagnosis for everything that tells the user: `serve`'s silence
//! warning and its detection summary, `probe`'s verdict and the status
//! page. Each is judged from what every setting tried delivered, so that
//! they never disagree (a setting already tried is never suggested).

use crate::line::Setting;

use super::Observation;

/// The conclusion from what the settings tried delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Diagnosis {
    /// Not one byte arrived under any setting.
    NoBytes,
    /// Text arrives under `setting`, in telegram-like frames, but they
    /// fail their CRC or parity: bytes are damaged on the way.
    Damaged { setting: Setting },
    /// Text arrives under `setting`, but never a whole telegram.
    NoTelegram { setting: Setting },
    /// Every setting was tried and none decodes the bytes into text: the
    /// signal has the wrong polarity (or a wire is loose).
    NotInverted,
    /// The one setting the user fixed does not decode the bytes.
    WrongSetting { setting: Setting },
    /// A setting that worked no longer does, and detection starts again.
    NoLongerDecodes { setting: Setting },
    /// Encrypted frames arrive, and none decrypts: the key is not this
    /// meter's.
    WrongKey,
    /// Encrypted frames decrypt to good telegrams whose tags do not fit:
    /// the authentication key is not this meter's.
    WrongAuthKey,
    /// Encrypted frames arrive whose frame counter does not increase: the
    /// source sends old frames again.
    RepeatedFrames,
}

/// Judges `tried` (each setting with what it delivered). `every_setting`:
/// the list holds every candidate, so none is left to suggest.
pub fn diagnose(tried: &[(Setting, &Observation)], every_setting: bool) -> Diagnosis {
    if tried.iter().all(|(_, seen)| seen.bytes == 0) {
        return Diagnosis::NoBytes;
    }
    let text = |seen: &&Observation| seen.enough() && !seen.clearly_wrong();
    if let Some((setting, _)) = tried
        .iter()
        .find(|(_, seen)| !seen.clearly_wrong() && seen.crc_bad + seen.parity_errors > 0)
    {
        return Diagnosis::Damaged { setting: *setting };
    }
    if let Some((setting, _)) = tried
        .iter()
        .find(|(_, seen)| text(seen) && seen.valid + seen.encrypted == 0)
    {
        return Diagnosis::NoTelegram { setting: *setting };
    }
    match tried {
        [(setting, _)] if !every_setting => Diagnosis::WrongSetting { setting: *setting },
        _ => Diagnosis::NotInverted,
    }
}

impl Diagnosis {
    /// One sentence, the same wherever it is shown.
    pub fn summary(&self) -> String {
        match self {
            Diagnosis::NoBytes => "no bytes at all: the meter is not sending to this port \
                                   (Data Request pin not powered, wires on the wrong pins, or \
                                   the wrong device)"
                .into(),
            Diagnosis::Damaged { setting } => format!(
                "telegrams arrive at {setting} but fail their checks: bytes are damaged on the \
                 way (a loose wire, a missing pull-up on the data line, or a cable that is too \
                 long)"
            ),
            Diagnosis::NoTelegram { setting } => format!(
                "text arrives at {setting} but never a whole telegram: is this the P1 cable, \
                 and does it lose bytes?"
            ),
            Diagnosis::NotInverted => "bytes arrive, but no setting decodes them: the signal \
                                       has the wrong polarity (the P1 data line needs an \
                                       inverter), or a wire is loose"
                .into(),
            Diagnosis::NoLongerDecodes { setting } => format!(
                "bytes still arrive, but no longer decode at {setting}: was the meter or the \
                 cable changed? Detecting the settings again"
            ),
            Diagnosis::WrongKey => "encrypted frames arrive, but none decrypts: wrong key \
                                    (the key file does not hold this meter's key; check it \
                                    against the one from your grid operator)"
                .into(),
            Diagnosis::WrongAuthKey => "encrypted frames arrive and decrypt, but their tags do \
                                        not fit: wrong authentication key (check the one from \
                                        your grid operator, or leave out --auth-key-file to \
                                        check telegrams by their CRC)"
                .into(),
            Diagnosis::RepeatedFrames => "encrypted frames arrive, but their frame counter does \
                                          not increase: the source sends old frames again"
                .into(),
            Diagnosis::WrongSetting { setting } => format!(
                "bytes arrive, but {setting} does not decode them: leave out --baud and \
                 --framing so that p1mux tries every setting, or the signal is not inverted"
            ),
        }
    }

    /// What to check, step by step, for `probe`'s verdict about `device`.
    pub fn advice(&self, device: &str) -> String {
        let steps = match self {
            Diagnosis::NoBytes => {
                "- The meter only sends while Data Request (RJ12 pin 2) is held at 4-5.5 V. Many cables\n\
                 \x20 power it from the adapter's DTR/RTS or 5 V pin: check that wire.\n\
                 - Data comes out of pin 5 (and pin 3 is its ground). A crossed RJ12 cable puts the\n\
                 \x20 wires on the wrong pins: swap them, or use the other end or half of the cable.\n\
                 - Is DEVICE the P1 cable? Unplug it, see which device disappears (ls /dev/serial/by-id).\n"
            }
            Diagnosis::Damaged { .. } => {
                "- Check the data wire (pin 5) and its ground (pin 3) for a loose contact.\n\
                 - An open-collector P1 output needs a pull-up resistor (1-10 kOhm to 5 V or 3.3 V).\n\
                 - Keep the cable short and away from mains wiring.\n"
            }
            Diagnosis::NoTelegram { .. } => {
                "- A P1 telegram starts with '/' and ends with a '!' line: check that this is the\n\
                 \x20 meter's P1 port and that the cable does not drop bytes (a loose wire).\n"
            }
            Diagnosis::WrongKey | Diagnosis::WrongAuthKey => {
                "- The key is 32 hex digits from the grid operator (Creos in Luxembourg, the customer\n\
                 \x20 portal in Austria), one per meter: check that the file holds this meter's key.\n\
                 - A meter that was replaced has a new key.\n"
            }
            Diagnosis::RepeatedFrames => {
                "- Something between the meter and p1mux repeats its buffer: check the dongle or\n\
                 \x20 gateway that forwards the frames.\n"
            }
            Diagnosis::NotInverted
            | Diagnosis::WrongSetting { .. }
            | Diagnosis::NoLongerDecodes { .. } => {
                "- The P1 data line is inverted and needs an inverter (a transistor and pull-up), an\n\
                 \x20 FTDI cable with RXD inverted in its EEPROM, or an RS232-level adapter (PL2303/HL-340\n\
                 \x20 with a DB9 plug invert by nature).\n\
                 - If the cable already inverts, look for a loose wire or a missing pull-up on pin 5.\n"
            }
        };
        steps.replace("DEVICE", device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::CANDIDATES;

    fn seen(bytes: u64, not_text: u64, crc_bad: u64) -> Observation {
        Observation {
            bytes,
            not_text,
            crc_bad,
            frames: crc_bad,
            ..Observation::default()
        }
    }

    #[test]
    fn never_suggests_a_setting_already_tried() {
        let garbage = seen(5000, 4000, 0);
        let all: Vec<(Setting, &Observation)> = CANDIDATES.iter().map(|&s| (s, &garbage)).collect();
        let d = diagnose(&all, true);
        assert_eq!(d, Diagnosis::NotInverted);
        assert!(!d.summary().contains("--baud"), "{}", d.summary());
        let fixed = diagnose(&[(CANDIDATES[1], &garbage)], false);
        assert_eq!(
            fixed,
            Diagnosis::WrongSetting {
                setting: CANDIDATES[1]
            }
        );
    }

    #[test]
    fn text_with_bad_crcs_is_damage_not_polarity() {
        let (garbage, damaged) = (seen(5000, 4000, 0), seen(5000, 0, 3));
        let tried = [(CANDIDATES[0], &damaged), (CANDIDATES[1], &garbage)];
        assert_eq!(
            diagnose(&tried, true),
            Diagnosis::Damaged {
                setting: CANDIDATES[0]
            }
        );
        let text = seen(5000, 0, 0);
        assert_eq!(
            diagnose(&[(CANDIDATES[0], &text)], true),
            Diagnosis::NoTelegram {
                setting: CANDIDATES[0]
            }
        );
        let nothing = Observation::default();
        assert_eq!(
            diagnose(&[(CANDIDATES[0], &nothing)], false),
            Diagnosis::NoBytes
        );
    }
}
