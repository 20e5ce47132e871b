//! Every key of the config structs is documented in docs/configuration.md.
//!
//! The keys come from the serde structs themselves: a tracing deserializer
//! asks `Config` to deserialize itself and records the field names each
//! struct asks for, walking into every option, list, map and nested struct.
//! A new field is therefore checked without anyone listing it. Units
//! (durations, sizes, ratios) read any value and cannot be traced into;
//! they are leaves, so the walk skips them on the next pass.

use std::{cell::RefCell, collections::BTreeSet, fmt};

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess, VariantAccess,
    Visitor,
};

use protogate::config::Config;

const DOCS: &str = include_str!("../../docs/configuration.md");

#[derive(Debug)]
struct TraceError(String);

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TraceError {}

impl de::Error for TraceError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Self(message.to_string())
    }
}

/// What the walk found: every key by its dotted path, and the paths of the
/// leaves that cannot be traced into (skipped on the next pass).
#[derive(Default)]
struct Trace {
    keys: BTreeSet<String>,
    opaque: BTreeSet<String>,
}

#[derive(Clone, Copy)]
struct Tracer<'t> {
    trace: &'t RefCell<Trace>,
}

/// The tracer at one place of the config.
struct At<'t> {
    tracer: Tracer<'t>,
    path: String,
}

impl<'t> At<'t> {
    fn child(&self, segment: &str) -> At<'t> {
        let path = if self.path.is_empty() || segment.starts_with('[') {
            format!("{}{segment}", self.path)
        } else {
            format!("{}.{segment}", self.path)
        };
        At { tracer: self.tracer, path }
    }
}

macro_rules! with_value {
    ($($method:ident => $visit:ident($($value:expr)?)),* $(,)?) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TraceError> {
            visitor.$visit($($value)?)
        })*
    };
}

impl<'de> Deserializer<'de> for At<'_> {
    type Error = TraceError;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, TraceError> {
        self.tracer.trace.borrow_mut().opaque.insert(self.path.clone());
        Err(TraceError(format!("{}: a leaf read from any value", self.path)))
    }

    with_value! {
        deserialize_bool => visit_bool(false),
        deserialize_i8 => visit_i64(0), deserialize_i16 => visit_i64(0),
        deserialize_i32 => visit_i64(0), deserialize_i64 => visit_i64(0),
        deserialize_u8 => visit_u64(0), deserialize_u16 => visit_u64(0),
        deserialize_u32 => visit_u64(0), deserialize_u64 => visit_u64(0),
        deserialize_f32 => visit_f64(0.0), deserialize_f64 => visit_f64(0.0),
        deserialize_char => visit_char('x'),
        deserialize_str => visit_str("x"), deserialize_string => visit_str("x"),
        deserialize_identifier => visit_str("x"),
        deserialize_bytes => visit_bytes(b"x"), deserialize_byte_buf => visit_bytes(b"x"),
        deserialize_unit => visit_unit(), deserialize_ignored_any => visit_unit(),
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TraceError> {
        visitor.visit_some(self)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TraceError> {
        visitor.visit_seq(One { at: Some(self.child("[]")) })
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, TraceError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TraceError> {
        visitor.visit_map(Fields { fields: vec!["<name>"], value: None, at: self })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        let fields = {
            let mut trace = self.tracer.trace.borrow_mut();
            trace.keys.extend(fields.iter().map(|field| self.child(field).path));
            let opaque = &trace.opaque;
            fields.iter().copied().filter(|field| !opaque.contains(&self.child(field).path)).rev().collect()
        };
        visitor.visit_map(Fields { fields, value: None, at: self })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TraceError> {
        visitor.visit_enum(FirstVariant(variants[0]))
    }
}

/// One element of a list.
struct One<'t> {
    at: Option<At<'t>>,
}

impl<'de> SeqAccess<'de> for One<'_> {
    type Error = TraceError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, TraceError> {
        self.at.take().map(|at| seed.deserialize(at)).transpose()
    }
}

/// The fields of a struct (or one entry of a map), each once.
struct Fields<'t> {
    fields: Vec<&'static str>,
    value: Option<&'static str>,
    at: At<'t>,
}

impl<'de> MapAccess<'de> for Fields<'_> {
    type Error = TraceError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, TraceError> {
        let Some(field) = self.fields.pop() else { return Ok(None) };
        self.value = Some(field);
        seed.deserialize(field.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, TraceError> {
        let field = self.value.take().ok_or_else(|| TraceError("a value without a key".into()))?;
        seed.deserialize(self.at.child(field))
    }
}

struct FirstVariant(&'static str);

impl<'de> EnumAccess<'de> for FirstVariant {
    type Error = TraceError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), TraceError> {
        Ok((seed.deserialize(self.0.into_deserializer())?, self))
    }
}

impl<'de> VariantAccess<'de> for FirstVariant {
    type Error = TraceError;

    fn unit_variant(self) -> Result<(), TraceError> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _: T) -> Result<T::Value, TraceError> {
        Err(TraceError("newtype variants are not traced".into()))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, TraceError> {
        Err(TraceError("tuple variants are not traced".into()))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, TraceError> {
        Err(TraceError("struct variants are not traced".into()))
    }
}

/// Every key path of `Config`, such as `upstreams.<name>.outlier.base_ejection`.
fn config_keys() -> BTreeSet<String> {
    let trace = RefCell::new(Trace::default());
    // Each pass stops at the first leaf it cannot trace into and skips it
    // next time; a pass that finds no new one has seen everything.
    for _ in 0..1000 {
        let opaque = trace.borrow().opaque.len();
        let tracer = Tracer { trace: &trace };
        let traced = <Config as serde::Deserialize>::deserialize(At { tracer, path: String::new() });
        if traced.is_ok() || trace.borrow().opaque.len() == opaque {
            return trace.into_inner().keys;
        }
    }
    panic!("the config walk did not end");
}

/// The backticked names in the first cells of the document's tables and
/// in its headings, split at dots (`grpc.service` names `grpc` and `service`).
fn documented_names() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in DOCS.lines() {
        let place = if line.starts_with('#') {
            line
        } else if let Some(row) = line.strip_prefix('|') {
            row.split('|').next().unwrap_or_default()
        } else {
            continue;
        };
        for token in place.split('`').skip(1).step_by(2) {
            for segment in token.split(['.', ' ', '/', ',']) {
                names.insert(segment.trim_end_matches("[]").to_owned());
            }
        }
    }
    names
}

#[test]
fn the_walk_finds_keys_at_every_depth() {
    let keys = config_keys();
    for key in [
        "listen",
        "upstreams.<name>.protocol",
        "upstreams.<name>.outlier.max_ejection",
        "routes[].http.request_headers.remove",
        "policies.<name>.jwt.jwks.cooldown",
        "policies.<name>.rate_limit.redis.password_file",
        "descriptors[].files",
    ] {
        assert!(keys.contains(key), "{key} not found in {keys:#?}");
    }
}

#[test]
fn every_config_key_is_documented() {
    let documented = documented_names();
    let missing: Vec<String> = config_keys()
        .into_iter()
        .filter(|key| {
            let leaf = key.rsplit('.').next().unwrap_or(key).trim_end_matches("[]");
            !documented.contains(leaf)
        })
        .collect();
    assert!(missing.is_empty(), "docs/configuration.md has no table row or heading for: {missing:#?}");
}
