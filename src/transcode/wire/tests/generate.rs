//! Random input for the wire codec's properties, from one seed: messages
//! of any descriptor (every field kind, well-known types included, some of
//! them invalid on purpose), and mutations of wire bytes and JSON text.

use prost::Message;
use prost_reflect::{DynamicMessage, Kind, MapKey, MessageDescriptor, Value};

/// A small deterministic generator (xorshift64*), driven by proptest's seed.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub(super) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A random message of `descriptor`; well-known types get their own values.
pub(super) fn message(rng: &mut Rng, descriptor: &MessageDescriptor, depth: usize) -> DynamicMessage {
    if let Some(message) = well_known(rng, descriptor, depth) {
        return message;
    }
    let mut message = DynamicMessage::new(descriptor.clone());
    for field in descriptor.fields() {
        if !rng.chance(if depth == 0 { 45 } else { 25 }) {
            continue;
        }
        let kind = field.kind();
        let value = if field.is_map() {
            let Kind::Message(entry) = &kind else { continue };
            let (key_kind, value_kind) =
                (entry.map_entry_key_field().kind(), entry.map_entry_value_field().kind());
            let entries = (0..rng.below(4))
                .map(|_| (map_key(rng, &key_kind), value(rng, &value_kind, depth)))
                .collect();
            Value::Map(entries)
        } else if field.is_list() {
            Value::List((0..rng.below(4)).map(|_| value(rng, &kind, depth)).collect())
        } else {
            value(rng, &kind, depth)
        };
        message.set_field(&field, value);
    }
    message
}

fn value(rng: &mut Rng, kind: &Kind, depth: usize) -> Value {
    match kind {
        Kind::Double => Value::F64(double(rng)),
        Kind::Float => Value::F32(double(rng) as f32),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            let low = rng.below(3) as i32;
            Value::I32(*rng.pick(&[0, 1, -1, i32::MIN, i32::MAX, 300]) ^ low)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            let random = rng.next() as i64;
            Value::I64(*rng.pick(&[0, -1, i64::MIN, i64::MAX, 1 << 40, random]))
        }
        Kind::Uint32 | Kind::Fixed32 => {
            let random = rng.next() as u32;
            Value::U32(*rng.pick(&[0, 1, u32::MAX, random]))
        }
        Kind::Uint64 | Kind::Fixed64 => {
            let random = rng.next();
            Value::U64(*rng.pick(&[0, 1, u64::MAX, random]))
        }
        Kind::Bool => Value::Bool(rng.chance(50)),
        Kind::String => Value::String(text(rng)),
        Kind::Bytes => Value::Bytes((0..rng.below(7)).map(|_| rng.next() as u8).collect::<Vec<u8>>().into()),
        Kind::Enum(_) => Value::EnumNumber(*rng.pick(&[0, 1, 2, 7, -1])),
        Kind::Message(inner) if depth >= 3 => Value::Message(DynamicMessage::new(inner.clone())),
        Kind::Message(inner) => Value::Message(message(rng, inner, depth + 1)),
    }
}

fn map_key(rng: &mut Rng, kind: &Kind) -> MapKey {
    match value(rng, kind, 0) {
        Value::Bool(v) => MapKey::Bool(v),
        Value::I32(v) => MapKey::I32(v),
        Value::I64(v) => MapKey::I64(v),
        Value::U32(v) => MapKey::U32(v),
        Value::U64(v) => MapKey::U64(v),
        Value::String(v) => MapKey::String(v),
        other => panic!("no map key of {other:?}"),
    }
}

fn double(rng: &mut Rng) -> f64 {
    let bits = f64::from_bits(rng.next());
    *rng.pick(&[
        0.0,
        -0.0,
        1.5,
        -2.25e-300,
        1e300,
        0.1,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        3.0,
        bits,
    ])
}

fn text(rng: &mut Rng) -> String {
    const PIECES: &[&str] = &["", "a", "é", "\"", "\\", "\n", "\u{1}", "日本", "/", "x y", "\u{2028}", "😀"];
    (0..rng.below(4)).map(|_| *rng.pick(PIECES)).collect()
}

/// The well-known types, as messages; about one in twenty is invalid for JSON.
fn well_known(rng: &mut Rng, descriptor: &MessageDescriptor, depth: usize) -> Option<DynamicMessage> {
    let bad = rng.chance(5);
    let encoded = match descriptor.full_name() {
        "google.protobuf.Timestamp" => {
            let seconds = -62_135_596_800 + rng.below(253_402_300_799 + 62_135_596_800) as i64;
            let random = rng.below(1_000_000_000) as i32;
            let nanos = *rng.pick(&[0, 5_000_000, 123_456_000, 999_999_999, random]);
            let nanos = if bad { 1_000_000_000 } else { nanos };
            prost_types::Timestamp { seconds, nanos }.encode_to_vec()
        }
        "google.protobuf.Duration" => {
            let seconds = rng.below(315_576_000_000) as i64;
            let random = rng.below(1_000_000_000) as i32;
            let nanos = *rng.pick(&[0, 500_000_000, 1_000, random]);
            let (seconds, nanos) = if rng.chance(50) { (-seconds, -nanos) } else { (seconds, nanos) };
            let nanos = if bad { 1_000_000_000 } else { nanos };
            prost_types::Duration { seconds, nanos }.encode_to_vec()
        }
        "google.protobuf.Struct" => structure(rng, depth, bad).encode_to_vec(),
        "google.protobuf.Value" => json_value(rng, depth, bad).encode_to_vec(),
        "google.protobuf.ListValue" => list(rng, depth, bad).encode_to_vec(),
        "google.protobuf.FieldMask" => {
            let paths = (0..rng.below(3)).map(|_| rng.pick(&["a_b", "c", "a_b.c_d", "x1"]).to_string());
            let mut paths: Vec<String> = paths.collect();
            if bad {
                paths.push("Bad__Path".into());
            }
            prost_types::FieldMask { paths }.encode_to_vec()
        }
        "google.protobuf.Any" => {
            let inner = descriptor.parent_pool().get_message_by_name("wiretest.v1.Inner")?;
            let value = message(rng, &inner, depth + 1).encode_to_vec();
            let type_url = match bad {
                true => "type.googleapis.com/wiretest.v1.Missing".to_owned(),
                false => "type.googleapis.com/wiretest.v1.Inner".to_owned(),
            };
            prost_types::Any { type_url, value }.encode_to_vec()
        }
        _ => return None,
    };
    DynamicMessage::decode(descriptor.clone(), encoded.as_slice()).ok()
}

fn json_value(rng: &mut Rng, depth: usize, bad: bool) -> prost_types::Value {
    use prost_types::value::Kind as K;
    let kind = match rng.below(if depth >= 2 { 4 } else { 6 }) {
        0 => K::NullValue(0),
        1 => K::BoolValue(rng.chance(50)),
        2 => K::NumberValue(if bad { f64::NAN } else { *rng.pick(&[0.0, -1.5, 1e21, 7.0]) }),
        3 => K::StringValue(text(rng)),
        4 => K::ListValue(list(rng, depth + 1, false)),
        _ => K::StructValue(structure(rng, depth + 1, false)),
    };
    prost_types::Value { kind: Some(kind) }
}

fn list(rng: &mut Rng, depth: usize, bad: bool) -> prost_types::ListValue {
    prost_types::ListValue { values: (0..rng.below(3)).map(|_| json_value(rng, depth, bad)).collect() }
}

fn structure(rng: &mut Rng, depth: usize, bad: bool) -> prost_types::Struct {
    let fields = (0..rng.below(3)).map(|_| (text(rng), json_value(rng, depth, bad))).collect();
    prost_types::Struct { fields }
}

/// `bytes` changed a little: a byte flipped, cut short, a byte inserted,
/// a stretch repeated, or another message's bytes appended (a merge).
pub(super) fn mutate_wire(rng: &mut Rng, bytes: &[u8], other: &[u8]) -> Vec<u8> {
    let mut bytes = bytes.to_vec();
    let at = rng.below(bytes.len() as u64 + 1) as usize;
    match rng.below(5) {
        0 if !bytes.is_empty() => {
            let at = at.min(bytes.len() - 1);
            bytes[at] ^= 1 << rng.below(8);
        }
        1 => bytes.truncate(at),
        2 => bytes.insert(at, rng.next() as u8),
        3 => {
            let copy = bytes.clone();
            bytes.extend_from_slice(&copy);
        }
        _ => bytes.extend_from_slice(other),
    }
    bytes
}

/// `json` changed a little: a member put in front (a duplicate, an unknown
/// key, a wrong type, an unknown enum name, a second oneof member), a
/// character replaced or removed, cut short, or nested too deep.
pub(super) fn mutate_json(rng: &mut Rng, json: &str) -> String {
    const MEMBERS: &[&str] = &[
        r#""fInt32":"12","#,
        r#""zzz":{"a":[1,{"b":null}]},"#,
        r#""mood":"NOPE","#,
        r#""fInt32":1.5,"#,
        r#""cString":"x","cInt64":"3","#,
        r#""fFloat":1e39,"#,
        r#""fBytes":"-_-_","#,
        r#""rInt32":[1,null],"#,
        r#""mStringInt32":{"a":1,"a":2},"#,
        r#""inner":{"name":"n"},"inner":{"count":2},"#,
        r#""fUint64":"-1","#,
        r#""val":null,"#,
        r#""customName":7,"custom_name":8,"#,
        r#""json_named":3,"#,
        r#""mInt64String":{"x":"y"},"#,
    ];
    let mut text = json.to_owned();
    let at = rng.below(text.len() as u64 + 1) as usize;
    let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
    match rng.below(5) {
        0 | 1 if text.starts_with('{') => {
            let member: &str = rng.pick::<&str>(MEMBERS);
            text.insert_str(1, member);
        }
        2 => text.truncate(at),
        3 if at < text.len() => {
            let replacement = *rng.pick(&["", "{", "}", "[", "\"", ",", ":", "0", "a", "-", "n"]);
            let end = (at + 1..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
            text.replace_range(at..end, replacement);
        }
        _ => {
            let levels = 60 + rng.below(10) as usize;
            text = format!("{}{text}{}", r#"{"child":"#.repeat(levels), "}".repeat(levels));
        }
    }
    text
}
