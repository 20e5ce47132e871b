//! What the walk over a JSON body (see [`super::walk`]) needs to know of
//! the messages it can reach, worked out once when the binding is compiled:
//! for each field, what one of its values is (an enum to check, a message
//! to walk into, or anything else), and whether any enum can be reached
//! through it at all. A body whose message tree holds no enum (other than
//! `google.protobuf.NullValue`) is then never walked for enums.
//!
//! Recursive messages are planned once each: every message gets one entry,
//! and fields refer to messages by entry index.

use std::collections::HashMap;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};

use super::scalar::is_well_known;

/// The plans of every message reachable from one root message.
#[derive(Debug, Clone)]
pub(super) struct BodyPlan {
    /// Entry 0 is the root.
    messages: Vec<MessagePlan>,
}

#[derive(Debug, Clone)]
struct MessagePlan {
    descriptor: MessageDescriptor,
    /// Sorted by field number.
    fields: Vec<(u32, FieldPlan)>,
    has_enums: bool,
}

/// One field of a planned message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FieldPlan {
    /// One value of the field (an element of a list, the value of a map entry).
    pub(super) value: ValuePlan,
    /// Whether an enum value the walk checks can appear under this field.
    pub(super) has_enums: bool,
}

/// What one value of a field is, for the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ValuePlan {
    /// Nothing to look into: a scalar, a well-known type, `NullValue`.
    Opaque,
    /// An enum whose names are checked.
    Enum,
    /// A message (not a well-known type) walked into: the index of its plan.
    Message(usize),
}

/// A planned message, as the walk holds it.
#[derive(Debug, Clone, Copy)]
pub(super) struct MessageRef<'a> {
    plan: &'a BodyPlan,
    index: usize,
}

impl BodyPlan {
    /// Plans `root` and every message reachable from it.
    pub(super) fn compile(root: &MessageDescriptor) -> Self {
        // Messages are numbered in the order they are found, and planned in that order.
        let mut found = vec![root.clone()];
        let mut indices = HashMap::from([(root.full_name().to_owned(), 0)]);
        let mut messages = Vec::new();
        while let Some(message) = found.get(messages.len()).cloned() {
            let mut fields: Vec<(u32, FieldPlan)> = message
                .fields()
                .map(|field| {
                    let value = value_plan(&value_kind(&field), &mut indices, &mut found);
                    (field.number(), FieldPlan { value, has_enums: value == ValuePlan::Enum })
                })
                .collect();
            fields.sort_unstable_by_key(|(number, _)| *number);
            messages.push(MessagePlan { descriptor: message, fields, has_enums: false });
        }
        let mut plan = Self { messages };
        plan.spread_enums();
        plan
    }

    /// The root message.
    pub(super) fn root(&self) -> MessageRef<'_> {
        MessageRef { plan: self, index: 0 }
    }

    /// Whether any enum the walk checks can appear in a body.
    pub(super) fn has_enums(&self) -> bool {
        self.messages.first().is_some_and(|m| m.has_enums)
    }

    /// Marks every message and field through which an enum can be reached
    /// (a fixed point, so that recursive messages are handled).
    fn spread_enums(&mut self) {
        let mut changed = true;
        while changed {
            changed = false;
            for index in 0..self.messages.len() {
                let reaches = |value: ValuePlan| match value {
                    ValuePlan::Enum => true,
                    ValuePlan::Message(inner) => self.messages.get(inner).is_some_and(|m| m.has_enums),
                    ValuePlan::Opaque => false,
                };
                let flags: Vec<bool> =
                    self.messages[index].fields.iter().map(|(_, f)| reaches(f.value)).collect();
                let message = &mut self.messages[index];
                for ((_, field), reaches) in message.fields.iter_mut().zip(flags) {
                    field.has_enums = reaches;
                }
                let has_enums = message.fields.iter().any(|(_, f)| f.has_enums);
                changed |= has_enums != message.has_enums;
                message.has_enums = has_enums;
            }
        }
    }
}

impl<'a> MessageRef<'a> {
    /// The message's descriptor.
    pub(super) fn descriptor(&self) -> &'a MessageDescriptor {
        &self.plan.messages[self.index].descriptor
    }

    /// The plan of `field`, a field of this message.
    pub(super) fn field(&self, field: &FieldDescriptor) -> FieldPlan {
        let fields = self.plan.messages.get(self.index).map_or(&[][..], |m| &m.fields[..]);
        match fields.binary_search_by_key(&field.number(), |(number, _)| *number) {
            Ok(at) => fields[at].1,
            Err(_) => FieldPlan { value: ValuePlan::Opaque, has_enums: false },
        }
    }

    /// The planned message at `index` (from a [`ValuePlan::Message`]).
    pub(super) fn at(&self, index: usize) -> MessageRef<'a> {
        MessageRef { plan: self.plan, index }
    }
}

/// The kind of one value of `field`: the map value's for a map field.
fn value_kind(field: &FieldDescriptor) -> Kind {
    match field.kind() {
        Kind::Message(entry) if field.is_map() => entry.map_entry_value_field().kind(),
        kind => kind,
    }
}

/// The plan of one value of `kind`; a message met for the first time is
/// numbered and queued in `found`.
fn value_plan(
    kind: &Kind,
    indices: &mut HashMap<String, usize>,
    found: &mut Vec<MessageDescriptor>,
) -> ValuePlan {
    match kind {
        Kind::Enum(enumeration) if enumeration.full_name() != "google.protobuf.NullValue" => ValuePlan::Enum,
        Kind::Message(message) if !is_well_known(message) => {
            let index = *indices.entry(message.full_name().to_owned()).or_insert_with(|| {
                found.push(message.clone());
                found.len() - 1
            });
            ValuePlan::Message(index)
        }
        _ => ValuePlan::Opaque,
    }
}

#[cfg(test)]
mod tests {
    use prost_reflect::DescriptorPool;

    use super::*;

    fn demo(name: &str) -> MessageDescriptor {
        let pool = DescriptorPool::decode(crate::proto::DEMO_DESCRIPTOR_SET).unwrap();
        pool.get_message_by_name(&format!("demo.v1.{name}")).unwrap()
    }

    #[test]
    fn enums_are_found_through_messages_and_recursion_ends() {
        let kitchen = BodyPlan::compile(&demo("Kitchen"));
        assert!(kitchen.has_enums());
        let field = |plan: &BodyPlan, name: &str| {
            let root = plan.root();
            root.field(&root.descriptor().get_field_by_name(name).unwrap())
        };
        assert_eq!(field(&kitchen, "color"), FieldPlan { value: ValuePlan::Enum, has_enums: true });
        assert!(!field(&kitchen, "nested").has_enums, "Nested holds no enum");
        assert_eq!(field(&kitchen, "ts").value, ValuePlan::Opaque, "well-known types are not walked");

        let nested = BodyPlan::compile(&demo("Nested"));
        assert!(!nested.has_enums());
        assert_eq!(field(&nested, "child").value, ValuePlan::Message(0), "a recursive field points back");
    }
}
