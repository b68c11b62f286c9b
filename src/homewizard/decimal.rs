//! Exact decimal arithmetic on the meter's own digits: kW to W, Wh to kWh,
//! delivered minus returned, tariffs summed, without a float's
//! `110.99999999999999`.

use crate::telegram::Number;

/// `mantissa / 10^scale`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Decimal {
    mantissa: i128,
    scale: u32,
}

/// Meter numbers have at most ~12 digits; anything past this is no meter's.
const MAX_DIGITS: usize = 30;

impl Decimal {
    /// From a DSMR number's digits (already checked by [`Number::parse`]).
    pub fn of(number: &Number) -> Option<Decimal> {
        let text = number.text.as_str();
        let (negative, digits) = match text.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, text),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if int.len() + frac.len() > MAX_DIGITS {
            return None;
        }
        let mut mantissa: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            mantissa = mantissa * 10 + i128::from(b.checked_sub(b'0').filter(|d| *d < 10)?);
        }
        Some(Decimal {
            mantissa: if negative { -mantissa } else { mantissa },
            scale: frac.len() as u32,
        })
    }

    /// Multiplied by 10^`exp` (negative: divided), exactly.
    pub fn shift(self, exp: i32) -> Decimal {
        if exp >= 0 {
            let up = exp as u32;
            let keep = up.min(self.scale);
            Decimal {
                mantissa: self.mantissa * 10i128.pow(up - keep),
                scale: self.scale - keep,
            }
        } else {
            Decimal {
                mantissa: self.mantissa,
                scale: self.scale + exp.unsigned_abs(),
            }
        }
    }

    fn at_scale(self, scale: u32) -> i128 {
        self.mantissa * 10i128.pow(scale - self.scale)
    }

    pub fn add(self, other: Decimal) -> Decimal {
        let scale = self.scale.max(other.scale);
        Decimal {
            mantissa: self.at_scale(scale) + other.at_scale(scale),
            scale,
        }
    }

    pub fn sub(self, other: Decimal) -> Decimal {
        self.add(Decimal {
            mantissa: -other.mantissa,
            scale: other.scale,
        })
    }

    /// JSON syntax: `-12.50`, `0.034`, `111`; never `-0`.
    pub fn json(self) -> String {
        let digits = self.mantissa.unsigned_abs().to_string();
        let scale = self.scale as usize;
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        let sign = if self.mantissa < 0 { "-" } else { "" };
        if frac.is_empty() {
            format!("{sign}{int}")
        } else {
            format!("{sign}{int}.{frac}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::of(&Number::parse(text).unwrap()).unwrap()
    }

    #[test]
    fn exact() {
        assert_eq!(d("00.111").shift(3).json(), "111");
        assert_eq!(d("0000.89").shift(3).json(), "890");
        assert_eq!(d("02.351").shift(3).json(), "2351");
        assert_eq!(d("006545766").shift(-3).json(), "6545.766");
        assert_eq!(d("000000058").shift(-3).json(), "0.058");
        assert_eq!(d("00.000").shift(3).json(), "0");
        assert_eq!(d("00.000").sub(d("00.897")).shift(3).json(), "-897");
        assert_eq!(d("0.0").sub(d("0.0")).json(), "0.0");
        assert_eq!(d("002130.115").add(d("000245.467")).json(), "2375.582");
        assert_eq!(d("16719.940").add(d("19403.220")).json(), "36123.160");
        assert_eq!(d("-040").json(), "-40");
        assert_eq!(d("234.7").json(), "234.7");
    }
}
