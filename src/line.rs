//! Serial line settings: how the meter's bytes are put on the wire, and the
//! settings p1mux tries when it has to find out by itself.

use std::fmt;

use crate::framer::Parity;

/// Serial character framing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// 8 data bits, no parity: DSMR 4/5.
    EightN1,
    /// 7 data bits, even parity: DSMR 2.2/3.0.
    SevenE1,
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Framing::EightN1 => "8N1",
            Framing::SevenE1 => "7E1",
        })
    }
}

/// One way of reading the port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    pub baud: u32,
    /// What the port is set to.
    pub framing: Framing,
    /// How the framer reads the bytes: `Even` also covers a 7E1 meter read
    /// as 8N1, whose parity lands in bit 7.
    pub parity: Parity,
}

impl Setting {
    /// The framer reads 7E1, and anything at 9600 baud, with parity
    /// awareness: at 9600 only DSMR 2.2/3.0 meters exist, and they send
    /// 7E1, which an 8N1 port delivers with the parity in bit 7. Plain 7-bit
    /// bytes pass that reading unchanged.
    pub const fn new(baud: u32, framing: Framing) -> Setting {
        let parity = match framing {
            Framing::SevenE1 => Parity::Even,
            Framing::EightN1 if baud <= 9600 => Parity::Even,
            Framing::EightN1 => Parity::None,
        };
        Setting {
            baud,
            framing,
            parity,
        }
    }

    /// The `serve` options that select exactly this setting.
    pub fn serve_args(&self) -> String {
        let framing = match self.framing {
            Framing::EightN1 => "8n1",
            Framing::SevenE1 => "7e1",
        };
        format!("--baud {} --framing {framing}", self.baud)
    }

    /// Why the parity arrives in bit 7 under this setting, for logs and `probe`.
    pub fn parity_note(&self) -> &'static str {
        match self.framing {
            Framing::SevenE1 => {
                "the serial driver ignores the 7E1 setting (parity arrives in bit 7, as with \
                 ch341 before Linux 4.10): p1mux checks that parity and strips it"
            }
            Framing::EightN1 => {
                "a 7E1 meter read as 8N1 (parity arrives in bit 7): p1mux checks that parity \
                 and strips it"
            }
        }
    }
}

impl Setting {
    /// The setting as a candidate to try: 9600 8N1 is tried for what it
    /// reads, a 7E1 meter's bytes with the parity in bit 7.
    pub fn label(&self) -> String {
        if self.framing == Framing::EightN1 && self.parity == Parity::Even {
            format!("{self} (7E1 parity in bit 7)")
        } else {
            self.to_string()
        }
    }
}

/// What the port is set to, as users write it: "115200 8N1".
impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.baud, self.framing)
    }
}

/// The settings tried, in order: the two the DSMR standard uses, then a
/// 7E1 meter read as 8N1 (for drivers whose 7E1 mode misbehaves), then
/// 7E1 at 115200.
pub const CANDIDATES: [Setting; 4] = [
    Setting::new(115_200, Framing::EightN1),
    Setting::new(9600, Framing::SevenE1),
    Setting::new(9600, Framing::EightN1),
    Setting::new(115_200, Framing::SevenE1),
];

/// The settings to use or detect from, given what the user fixed.
pub fn settings_for(baud: Option<u32>, framing: Option<Framing>) -> Vec<Setting> {
    match (baud, framing) {
        (Some(baud), Some(framing)) => vec![Setting::new(baud, framing)],
        (Some(9600), None) => vec![Setting::new(9600, Framing::SevenE1)],
        (Some(baud), None) => vec![Setting::new(baud, Framing::EightN1)],
        (None, Some(framing)) => CANDIDATES
            .into_iter()
            .filter(|c| c.framing == framing)
            .collect(),
        (None, None) => CANDIDATES.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_follows_baud() {
        let seven_e1 = Setting::new(9600, Framing::SevenE1);
        assert_eq!(settings_for(Some(9600), None), vec![seven_e1]);
        assert_eq!(
            settings_for(Some(115200), None),
            vec![Setting::new(115200, Framing::EightN1)]
        );
        assert_eq!(
            settings_for(Some(9600), Some(Framing::EightN1)),
            vec![Setting::new(9600, Framing::EightN1)]
        );
        assert_eq!(settings_for(None, None), CANDIDATES.to_vec());
        assert_eq!(
            settings_for(None, Some(Framing::SevenE1)),
            vec![CANDIDATES[1], CANDIDATES[3]]
        );
    }

    #[test]
    fn shown_as_users_write_them() {
        assert_eq!(CANDIDATES[0].to_string(), "115200 8N1");
        assert_eq!(CANDIDATES[2].to_string(), "9600 8N1");
        assert_eq!(CANDIDATES[2].label(), "9600 8N1 (7E1 parity in bit 7)");
        assert_eq!(CANDIDATES[1].label(), "9600 7E1");
        assert_eq!(CANDIDATES[1].serve_args(), "--baud 9600 --framing 7e1");
    }
}
