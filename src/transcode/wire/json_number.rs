//! Numbers and enum values read from JSON exactly as prost-reflect's
//! visitors read them (the same conversions, bounds and casts), so that
//! the same JSON gives the same value on both paths.

use std::fmt;

use prost_reflect::EnumDescriptor;
use serde::de::{Error, Visitor};

use super::from_json::fallback;
use super::plan::Scalar;
use super::write::Number;

/// A number of one scalar class.
pub(super) struct NumberOf(pub(super) Scalar);

/// An enum value, by name or number.
pub(super) struct EnumOf<'p>(pub(super) &'p EnumDescriptor);

/// A JSON integer as a value of `scalar` (a float takes it with rounding).
fn integer<E: Error>(scalar: Scalar, value: i128) -> Result<Number, E> {
    use Scalar as S;
    let number = match scalar {
        S::Double => Number::F64(value as f64),
        S::Float => Number::F32(value as f32),
        S::Int32 | S::Sint32 | S::Sfixed32 => Number::I32(value.try_into().map_err(|_| fallback::<E>())?),
        S::Int64 | S::Sint64 | S::Sfixed64 => Number::I64(value.try_into().map_err(|_| fallback::<E>())?),
        S::Uint32 | S::Fixed32 => Number::U32(value.try_into().map_err(|_| fallback::<E>())?),
        S::Uint64 | S::Fixed64 => Number::U64(value.try_into().map_err(|_| fallback::<E>())?),
        S::Bool | S::String | S::Bytes => return Err(fallback()),
    };
    Ok(number)
}

impl Visitor<'_> for NumberOf {
    type Value = Number;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a {:?} value", self.0)
    }

    fn visit_bool<E: Error>(self, value: bool) -> Result<Number, E> {
        match self.0 {
            Scalar::Bool => Ok(Number::Bool(value)),
            _ => Err(fallback()),
        }
    }

    fn visit_i64<E: Error>(self, value: i64) -> Result<Number, E> {
        integer(self.0, i128::from(value))
    }

    fn visit_u64<E: Error>(self, value: u64) -> Result<Number, E> {
        integer(self.0, i128::from(value))
    }

    fn visit_f64<E: Error>(self, value: f64) -> Result<Number, E> {
        use Scalar as S;
        // The bounds and casts are prost-reflect's, so that the same JSON
        // gives the same value.
        let integral = |min: f64, max: f64| {
            if value.fract() != 0.0 || value < min || value > max { Err(fallback::<E>()) } else { Ok(()) }
        };
        let number = match self.0 {
            S::Double => Number::F64(value),
            S::Float if value < f64::from(f32::MIN) || value > f64::from(f32::MAX) => return Err(fallback()),
            S::Float => Number::F32(value as f32),
            S::Int32 | S::Sint32 | S::Sfixed32 => {
                integral(f64::from(i32::MIN), f64::from(i32::MAX))?;
                Number::I32(value as i32)
            }
            S::Int64 | S::Sint64 | S::Sfixed64 => {
                integral(i64::MIN as f64, i64::MAX as f64)?;
                Number::I64(value as i64)
            }
            S::Uint32 | S::Fixed32 => {
                integral(f64::from(u32::MIN), f64::from(u32::MAX))?;
                Number::U32(value as u32)
            }
            S::Uint64 | S::Fixed64 => {
                integral(u64::MIN as f64, u64::MAX as f64)?;
                Number::U64(value as u64)
            }
            S::Bool | S::String | S::Bytes => return Err(fallback()),
        };
        Ok(number)
    }

    fn visit_str<E: Error>(self, text: &str) -> Result<Number, E> {
        use Scalar as S;
        let special = |infinity: f64| match text {
            "Infinity" => Some(infinity),
            "-Infinity" => Some(-infinity),
            "NaN" => Some(f64::NAN),
            _ => None,
        };
        let number = match self.0 {
            S::Double => Number::F64(match text.parse() {
                Ok(value) => value,
                Err(_) => special(f64::INFINITY).ok_or_else(fallback)?,
            }),
            S::Float => Number::F32(match text.parse() {
                Ok(value) => value,
                Err(_) => special(f64::INFINITY).ok_or_else(fallback)? as f32,
            }),
            S::Int32 | S::Sint32 | S::Sfixed32 => Number::I32(text.parse().map_err(|_| fallback::<E>())?),
            S::Int64 | S::Sint64 | S::Sfixed64 => Number::I64(text.parse().map_err(|_| fallback::<E>())?),
            S::Uint32 | S::Fixed32 => Number::U32(text.parse().map_err(|_| fallback::<E>())?),
            S::Uint64 | S::Fixed64 => Number::U64(text.parse().map_err(|_| fallback::<E>())?),
            S::Bool | S::String | S::Bytes => return Err(fallback()),
        };
        Ok(number)
    }
}

impl Visitor<'_> for EnumOf<'_> {
    type Value = i32;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a {} name or number", self.0.full_name())
    }

    fn visit_str<E: Error>(self, name: &str) -> Result<i32, E> {
        self.0.get_value_by_name(name).map(|value| value.number()).ok_or_else(fallback)
    }

    fn visit_i64<E: Error>(self, number: i64) -> Result<i32, E> {
        number.try_into().map_err(|_| fallback())
    }

    fn visit_u64<E: Error>(self, number: u64) -> Result<i32, E> {
        number.try_into().map_err(|_| fallback())
    }
}
