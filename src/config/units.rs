//! Units written as text in the config: durations (`250ms`, `5s`, `2m`,
//! `1h`), byte sizes (`512`, `64KiB`, `4MiB`, `1GiB`, also `KB`/`MB`/`GB`)
//! and ratios (`0.5` or `50%`).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, de};

/// A duration written as a number and a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration(pub std::time::Duration);

/// A size in bytes, written as a number and an optional unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

/// A ratio written as a number (`0.5`) or a percentage (`50%`), kept in
/// parts per million (`500000`); its range is checked where it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio(pub i64);

impl Ratio {
    fn of(value: f64) -> Result<Self, String> {
        if value.is_finite() {
            // Saturates far outside any valid range, which is refused later.
            Ok(Self((value * 1e6).round() as i64))
        } else {
            Err(format!("invalid ratio {value}"))
        }
    }
}

impl FromStr for Ratio {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid =
            || format!("invalid ratio {text:?}: write a number such as 0.5, or a percentage such as 50%");
        let text = text.trim();
        let (number, scale) = match text.strip_suffix('%') {
            Some(percent) => (percent.trim(), 100.0),
            None => (text, 1.0),
        };
        let value: f64 = number.parse().map_err(|_| invalid())?;
        Self::of(value / scale).map_err(|_| invalid())
    }
}

impl<'de> Deserialize<'de> for Ratio {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RatioVisitor;

        impl de::Visitor<'_> for RatioVisitor {
            type Value = Ratio;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a ratio, such as 0.5 or \"50%\"")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Ratio, E> {
                text.parse().map_err(E::custom)
            }

            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Ratio, E> {
                Ratio::of(value).map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Ratio, E> {
                Ratio::of(value as f64).map_err(E::custom)
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Ratio, E> {
                Ratio::of(value as f64).map_err(E::custom)
            }
        }

        deserializer.deserialize_any(RatioVisitor)
    }
}

fn split_number(text: &str) -> Option<(u64, &str)> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let number = text.get(..digits)?.parse().ok()?;
    Some((number, text.get(digits..)?.trim()))
}

impl FromStr for Duration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid =
            || format!("invalid duration {text:?}: write a whole number and a unit (ms, s, m or h)");
        let (number, unit) = split_number(text).ok_or_else(invalid)?;
        let duration = match unit {
            "ms" => std::time::Duration::from_millis(number),
            "s" => std::time::Duration::from_secs(number),
            "m" => std::time::Duration::from_secs(number.checked_mul(60).ok_or_else(invalid)?),
            "h" => std::time::Duration::from_secs(number.checked_mul(3600).ok_or_else(invalid)?),
            _ => return Err(invalid()),
        };
        Ok(Self(duration))
    }
}

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || {
            format!(
                "invalid size {text:?}: write a whole number and an optional unit (KiB, MiB, GiB, KB, MB, GB)"
            )
        };
        let (number, unit) = split_number(text).ok_or_else(invalid)?;
        let scale: u64 = match unit {
            "" | "B" => 1,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            "KB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            _ => return Err(invalid()),
        };
        number.checked_mul(scale).map(Self).ok_or_else(invalid)
    }
}

/// Accepts a string, or a bare integer read as the same text (a size takes
/// it as bytes; a duration refuses it for want of a unit).
struct TextOrInteger<T>(std::marker::PhantomData<T>);

impl<T: FromStr<Err = String>> de::Visitor<'_> for TextOrInteger<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number with a unit, such as \"5s\" or \"4MiB\"")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        text.parse().map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<T, E> {
        number.to_string().parse().map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<T, E> {
        u64::try_from(number).map_err(|_| E::custom("a negative number")).and_then(|n| self.visit_u64(n))
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextOrInteger(std::marker::PhantomData))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextOrInteger(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!("250ms".parse(), Ok(Duration(std::time::Duration::from_millis(250))));
        assert_eq!("5s".parse(), Ok(Duration(std::time::Duration::from_secs(5))));
        assert_eq!("2m".parse(), Ok(Duration(std::time::Duration::from_secs(120))));
        assert_eq!("1h".parse(), Ok(Duration(std::time::Duration::from_secs(3600))));
        for bad in ["", "5", "s", "1.5s", "-1s", "5 sec"] {
            assert!(bad.parse::<Duration>().is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!("512".parse(), Ok(ByteSize(512)));
        assert_eq!("64KiB".parse(), Ok(ByteSize(65536)));
        assert_eq!("4MiB".parse(), Ok(ByteSize(4 << 20)));
        assert_eq!("1GB".parse(), Ok(ByteSize(1_000_000_000)));
        for bad in ["", "MiB", "4XB", "99999999999999999999GiB"] {
            assert!(bad.parse::<ByteSize>().is_err(), "{bad}");
        }
    }

    #[test]
    fn ratios() {
        assert_eq!("0.5".parse(), Ok(Ratio(500_000)));
        assert_eq!("50%".parse(), Ok(Ratio(500_000)));
        assert_eq!("12.5 %".parse(), Ok(Ratio(125_000)));
        assert_eq!("1.5".parse(), Ok(Ratio(1_500_000)), "out of range, but a ratio");
        for bad in ["", "%", "half", "NaN", "inf"] {
            assert!(bad.parse::<Ratio>().is_err(), "{bad}");
        }
    }
}
