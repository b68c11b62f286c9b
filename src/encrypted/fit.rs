//! Whether the key fits the meter, judged over frames rather than per
//! frame, so that a wrong key is logged once, plainly, and its recovery too.

/// What decrypting one frame said about the keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Diagnosis {
    /// The GCM tag fits: key and authentication key are right.
    Fits,
    /// The tag does not fit, but the plaintext is a whole telegram with a
    /// good CRC: the key is right and this meter's authentication key is
    /// not the one p1mux has (no tag of this meter has fit yet, and none
    /// was given), so the CRC vouches for its telegrams.
    FitsCrcOnly,
    /// As [`Diagnosis::FitsCrcOnly`], but tags are required: the
    /// authentication key given, or one that fitted before, does not fit.
    WrongAuthKey,
    /// The plaintext is mostly text but not a good telegram: the key is
    /// right and the frame was damaged on the line.
    Damaged,
    /// The plaintext is noise: the key is wrong (or, once in a while, the
    /// system title or frame counter were damaged).
    WrongKey,
}

impl Diagnosis {
    /// The frame's plaintext may be forwarded.
    pub fn accepted(self) -> bool {
        matches!(self, Diagnosis::Fits | Diagnosis::FitsCrcOnly)
    }
}

/// A change in what p1mux knows about the keys: log it once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyNews {
    /// Frames in a row decrypt to noise.
    WrongKey,
    /// Frames in a row decrypt to good telegrams whose tags do not fit.
    WrongAuthKey,
    /// The first telegram accepted on its CRC alone.
    AuthKeyUnknown,
    /// Frames decrypt again after [`KeyNews::WrongKey`] or
    /// [`KeyNews::WrongAuthKey`].
    Fits,
}

impl KeyNews {
    /// What to tell the user, in words they can act on.
    pub fn message(self) -> &'static str {
        match self {
            KeyNews::WrongKey => {
                "the key does not fit this meter: check the key from your grid operator"
            }
            KeyNews::WrongAuthKey => {
                "the key fits this meter, but the authentication key does not (telegrams \
                 decrypt, their tags do not fit): check the authentication key from your \
                 grid operator (--auth-key-file), or leave it out to check telegrams by \
                 their CRC only"
            }
            KeyNews::AuthKeyUnknown => {
                "this meter's authentication key is not the Smarty one: its telegrams \
                 decrypt and are checked by their CRC only; give its authentication \
                 key with --auth-key-file to check their tags too"
            }
            KeyNews::Fits => "the key fits this meter again: frames decrypt",
        }
    }

    /// A warning rather than good news.
    pub fn is_problem(self) -> bool {
        matches!(self, KeyNews::WrongKey | KeyNews::WrongAuthKey)
    }
}

/// Frames in a row that must say the same before it is news: one damaged
/// frame is not a wrong key, and three frames are 30 s of a Smarty.
const IN_A_ROW: u32 = 3;

/// The judgement over frames.
#[derive(Debug, Default)]
pub(crate) struct KeyFit {
    /// Frames in a row that decrypted to noise.
    noise: u32,
    /// Frames in a row that were good telegrams with a tag that did not fit.
    mismatch: u32,
    /// The problem last reported, until a frame is accepted again.
    reported: Option<KeyNews>,
    /// [`KeyNews::AuthKeyUnknown`] has been told; it is told once.
    told_crc_only: bool,
    /// News not yet taken by the caller.
    news: Option<KeyNews>,
}

impl KeyFit {
    pub(crate) fn record(&mut self, diagnosis: Diagnosis) {
        match diagnosis {
            Diagnosis::Fits | Diagnosis::FitsCrcOnly => {
                self.noise = 0;
                self.mismatch = 0;
                if diagnosis == Diagnosis::FitsCrcOnly && !self.told_crc_only {
                    self.told_crc_only = true;
                    self.reported = None;
                    self.news = Some(KeyNews::AuthKeyUnknown);
                } else if self.reported.take().is_some() {
                    self.news = Some(KeyNews::Fits);
                }
            }
            Diagnosis::WrongAuthKey => {
                self.noise = 0;
                self.mismatch += 1;
                self.report_after(self.mismatch, KeyNews::WrongAuthKey);
            }
            // The key decrypts: whatever was wrong, it is not the key.
            Diagnosis::Damaged => self.noise = 0,
            Diagnosis::WrongKey => {
                self.mismatch = 0;
                self.noise += 1;
                self.report_after(self.noise, KeyNews::WrongKey);
            }
        }
    }

    fn report_after(&mut self, run: u32, problem: KeyNews) {
        if run >= IN_A_ROW && self.reported != Some(problem) {
            self.reported = Some(problem);
            self.news = Some(problem);
        }
    }

    pub(crate) fn take_news(&mut self) -> Option<KeyNews> {
        self.news.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Diagnosis::*;

    fn news(diagnoses: &[Diagnosis]) -> Vec<(usize, KeyNews)> {
        let mut fit = KeyFit::default();
        let mut out = Vec::new();
        for (i, &d) in diagnoses.iter().enumerate() {
            fit.record(d);
            out.extend(fit.take_news().map(|n| (i, n)));
        }
        out
    }

    #[test]
    fn a_wrong_key_is_news_once_and_so_is_its_fix() {
        let seen = news(&[WrongKey; 10]);
        assert_eq!(seen, vec![(2, KeyNews::WrongKey)]);
        let seen = news(&[WrongKey, WrongKey, WrongKey, WrongKey, Fits, Fits, WrongKey]);
        assert_eq!(seen, vec![(2, KeyNews::WrongKey), (4, KeyNews::Fits)]);
    }

    #[test]
    fn damage_is_not_a_wrong_key() {
        assert!(news(&[WrongKey, Damaged, WrongKey, Damaged, WrongKey, Fits]).is_empty());
        assert!(news(&[Fits, WrongKey, WrongKey, Fits, WrongKey]).is_empty());
    }

    #[test]
    fn an_unknown_auth_key_is_told_once() {
        let seen = news(&[FitsCrcOnly, FitsCrcOnly, Damaged, FitsCrcOnly]);
        assert_eq!(seen, vec![(0, KeyNews::AuthKeyUnknown)]);
        let seen = news(&[WrongAuthKey, WrongAuthKey, WrongAuthKey, WrongAuthKey, Fits]);
        assert_eq!(seen, vec![(2, KeyNews::WrongAuthKey), (4, KeyNews::Fits)]);
        assert!(
            KeyNews::WrongKey
                .message()
                .contains("check the key from your grid operator")
        );
        assert!(KeyNews::WrongKey.is_problem() && !KeyNews::Fits.is_problem());
    }
}
