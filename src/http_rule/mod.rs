//! The `google.api.http` rule: the path-template grammar, and the bindings
//! (verb, template, body, response body) that a method's rule yields.
//!
//! This room parses and checks; it knows nothing of routing or of messages
//! beyond reading the rule out of a method's options.

mod binding;
mod template;

pub use binding::{Binding, BodySelector, HttpRuleError, bindings_of, unannotated_binding};
pub use template::{PathTemplate, Segment, TemplateError, Variable};
