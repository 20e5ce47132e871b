//! The compiled shape of every message reachable from one root, for the
//! wire codec: per field its number, wire form, names (as JSON keys,
//! escaped once), presence, list/map shape, oneof and the plan of its
//! messages. Built once per route; the request path only indexes it.
//!
//! A tree the codec does not take on returns `None` from [`Plans::compile`]
//! and keeps the `DynamicMessage` path: proto2 or editions files (closed
//! enums, groups, declared defaults), messages with extensions, more than
//! 128 fields or 64 oneofs in one message, `google.protobuf.NullValue`
//! fields, and a root that is itself a well-known type. Well-known types
//! inside the tree are not planned: their subtrees go through
//! prost-reflect (see [`super`]).

use std::collections::HashMap;

use prost::encoding::WireType;
use prost_reflect::{EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor, Syntax};

/// The most fields (and oneofs) one planned message may have: seen sets are bit masks.
const MAX_FIELDS: usize = 128;
const MAX_ONEOFS: usize = 64;

/// The plans of every message reachable from one root; entry 0 is the root.
#[derive(Debug)]
pub(crate) struct Plans {
    messages: Vec<MessagePlan>,
}

/// One planned message.
#[derive(Debug)]
pub(crate) struct MessagePlan {
    /// Its fields, in field-number order (the order JSON output follows).
    pub(crate) fields: Vec<FieldPlan>,
    /// Field index by JSON name, then by proto name (as prost-reflect looks keys up).
    names: HashMap<Box<str>, u8>,
}

/// One field of a planned message.
#[derive(Debug)]
pub(crate) struct FieldPlan {
    pub(crate) number: u32,
    pub(crate) descriptor: FieldDescriptor,
    /// One value: the element of a list, the value of a map entry.
    pub(crate) value: ValueKind,
    pub(crate) shape: Shape,
    /// The index of its (non-synthetic or synthetic) oneof, if any.
    pub(crate) oneof: Option<u8>,
    /// `"jsonName":` and `"proto_name":`, escaped.
    pub(crate) json_key: Box<[u8]>,
    pub(crate) proto_key: Box<[u8]>,
}

/// How many values a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// One value; `presence` when an explicit default is kept (messages,
    /// oneof members, `optional`).
    Single { presence: bool },
    /// A repeated field; `packed` as prost-reflect writes it.
    List { packed: bool },
    /// A map field, with the kind of its key.
    Map { key: Scalar },
}

/// What one value of a field is.
#[derive(Debug, Clone)]
pub(crate) enum ValueKind {
    Scalar(Scalar),
    Enum(EnumDescriptor),
    /// A planned message: its index in [`Plans`].
    Message(usize),
    /// A well-known type, handled by prost-reflect.
    WellKnown(MessageDescriptor),
}

/// The scalar kinds, as the wire stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scalar {
    Double,
    Float,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    Fixed32,
    Fixed64,
    Sfixed32,
    Sfixed64,
    Bool,
    String,
    Bytes,
}

impl Scalar {
    fn of(kind: &Kind) -> Option<Self> {
        Some(match kind {
            Kind::Double => Self::Double,
            Kind::Float => Self::Float,
            Kind::Int32 => Self::Int32,
            Kind::Int64 => Self::Int64,
            Kind::Uint32 => Self::Uint32,
            Kind::Uint64 => Self::Uint64,
            Kind::Sint32 => Self::Sint32,
            Kind::Sint64 => Self::Sint64,
            Kind::Fixed32 => Self::Fixed32,
            Kind::Fixed64 => Self::Fixed64,
            Kind::Sfixed32 => Self::Sfixed32,
            Kind::Sfixed64 => Self::Sfixed64,
            Kind::Bool => Self::Bool,
            Kind::String => Self::String,
            Kind::Bytes => Self::Bytes,
            Kind::Message(_) | Kind::Enum(_) => return None,
        })
    }

    /// The wire type of one value.
    pub(crate) fn wire_type(self) -> WireType {
        match self {
            Self::Double | Self::Fixed64 | Self::Sfixed64 => WireType::SixtyFourBit,
            Self::Float | Self::Fixed32 | Self::Sfixed32 => WireType::ThirtyTwoBit,
            Self::String | Self::Bytes => WireType::LengthDelimited,
            _ => WireType::Varint,
        }
    }

    /// Whether JSON writes it as a string (64-bit integers).
    pub(crate) fn is_64_bit_integer(self) -> bool {
        matches!(self, Self::Int64 | Self::Uint64 | Self::Sint64 | Self::Fixed64 | Self::Sfixed64)
    }
}

impl ValueKind {
    /// The wire type of one value.
    pub(crate) fn wire_type(&self) -> WireType {
        match self {
            Self::Scalar(scalar) => scalar.wire_type(),
            Self::Enum(_) => WireType::Varint,
            Self::Message(_) | Self::WellKnown(_) => WireType::LengthDelimited,
        }
    }

    /// Whether a repeated field of it may come packed.
    pub(crate) fn is_packable(&self) -> bool {
        self.wire_type() != WireType::LengthDelimited
    }
}

impl Plans {
    /// Plans `root` and every message reachable from it; `None` when the
    /// tree holds what the codec leaves to `DynamicMessage` (see the module doc).
    pub(crate) fn compile(root: &MessageDescriptor) -> Option<Self> {
        if is_well_known(root) {
            return None;
        }
        let mut found = vec![root.clone()];
        let mut indices = HashMap::from([(root.full_name().to_owned(), 0)]);
        let mut messages = Vec::new();
        while let Some(message) = found.get(messages.len()).cloned() {
            messages.push(plan_message(&message, &mut indices, &mut found)?);
        }
        Some(Self { messages })
    }

    /// The plan of message `index` (0 is the root).
    pub(crate) fn message(&self, index: usize) -> &MessagePlan {
        &self.messages[index]
    }
}

impl MessagePlan {
    /// The index of the field a JSON key names.
    pub(crate) fn field_named(&self, key: &str) -> Option<usize> {
        self.names.get(key).map(|&index| usize::from(index))
    }

    /// The index of the field numbered `number`.
    pub(crate) fn field_numbered(&self, number: u32) -> Option<usize> {
        self.fields.binary_search_by_key(&number, |f| f.number).ok()
    }
}

/// Whether `message` is a well-known type (its JSON form is its own).
pub(crate) fn is_well_known(message: &MessageDescriptor) -> bool {
    message.package_name() == "google.protobuf"
}

fn plan_message(
    message: &MessageDescriptor,
    indices: &mut HashMap<String, usize>,
    found: &mut Vec<MessageDescriptor>,
) -> Option<MessagePlan> {
    let supported = message.parent_file().syntax() == Syntax::Proto3
        && message.extensions().len() == 0
        && message.fields().len() <= MAX_FIELDS
        && message.oneofs().len() <= MAX_ONEOFS;
    if !supported {
        return None;
    }
    let mut fields = Vec::with_capacity(message.fields().len());
    for field in message.fields() {
        fields.push(plan_field(field, indices, found)?);
    }
    let mut names = HashMap::with_capacity(fields.len() * 2);
    for (index, field) in fields.iter().enumerate() {
        names.insert(field.descriptor.json_name().into(), u8::try_from(index).ok()?);
    }
    for (index, field) in fields.iter().enumerate() {
        names.entry(field.descriptor.name().into()).or_insert(u8::try_from(index).ok()?);
    }
    Some(MessagePlan { fields, names })
}

fn plan_field(
    field: FieldDescriptor,
    indices: &mut HashMap<String, usize>,
    found: &mut Vec<MessageDescriptor>,
) -> Option<FieldPlan> {
    if field.is_group() {
        return None;
    }
    let (shape, kind) = match field.kind() {
        Kind::Message(entry) if field.is_map() => {
            let key = Scalar::of(&entry.map_entry_key_field().kind())?;
            (Shape::Map { key }, entry.map_entry_value_field().kind())
        }
        kind if field.is_list() => (Shape::List { packed: field.is_packed() }, kind),
        kind => (Shape::Single { presence: field.supports_presence() }, kind),
    };
    let value = match kind {
        Kind::Enum(enumeration) if enumeration.full_name() == "google.protobuf.NullValue" => return None,
        Kind::Enum(enumeration) => ValueKind::Enum(enumeration),
        Kind::Message(message) if is_well_known(&message) => ValueKind::WellKnown(message),
        Kind::Message(message) => {
            let index = *indices.entry(message.full_name().to_owned()).or_insert_with(|| {
                found.push(message.clone());
                found.len() - 1
            });
            ValueKind::Message(index)
        }
        scalar => ValueKind::Scalar(Scalar::of(&scalar)?),
    };
    let oneof = match field.containing_oneof() {
        Some(oneof) => Some(u8::try_from(oneof_index(&field, &oneof)?).ok()?),
        None => None,
    };
    Some(FieldPlan {
        number: field.number(),
        json_key: key_bytes(field.json_name())?,
        proto_key: key_bytes(field.name())?,
        value,
        shape,
        oneof,
        descriptor: field,
    })
}

/// The position of `oneof` among its message's oneofs.
fn oneof_index(field: &FieldDescriptor, oneof: &prost_reflect::OneofDescriptor) -> Option<usize> {
    field.parent_message().oneofs().position(|o| o.name() == oneof.name())
}

/// `"name":` as JSON writes it.
fn key_bytes(name: &str) -> Option<Box<[u8]>> {
    let mut key = serde_json::to_vec(name).ok()?;
    key.push(b':');
    Some(key.into_boxed_slice())
}

/// The value kind of a singular scalar or enum field (none for messages).
pub(crate) fn leaf_kind(field: &FieldDescriptor) -> Option<ValueKind> {
    match field.kind() {
        Kind::Enum(enumeration) => Some(ValueKind::Enum(enumeration)),
        Kind::Message(_) => None,
        scalar => Scalar::of(&scalar).map(ValueKind::Scalar),
    }
}
