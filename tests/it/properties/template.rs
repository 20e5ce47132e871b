//! Templates round-trip: a template generated as a structure, written as
//! text and parsed, has that structure; a parsed template written back
//! from its structure (and through `Display`) parses to the same one. The
//! generator is shared with the router's property.

use std::collections::BTreeSet;

use proptest::prelude::*;
use protogate::http_rule::{PathTemplate, Segment};

/// A template as the generator builds it, before it is text.
#[derive(Debug, Clone)]
pub struct Draft {
    pub parts: Vec<Part>,
    pub verb: Option<String>,
}

/// One `/`-separated part of a draft.
#[derive(Debug, Clone)]
pub enum Part {
    Plain(Segment),
    /// `{field.path}` (no segments: one `*`) or `{field.path=segments}`.
    Variable(Vec<String>, Option<Vec<Segment>>),
}

/// Literals that the grammar accepts: unreserved and sub-delim characters,
/// `@`, escapes and non-ASCII, never a dot segment.
pub fn any_literal() -> BoxedStrategy<String> {
    "([A-Za-z0-9_~!$&'()+,;=@.-]|%[0-9A-Fa-f]{2}|é){1,6}"
        .prop_filter("a dot segment", |l| !is_dots(l))
        .boxed()
}

fn is_dots(literal: &str) -> bool {
    let dots = literal.replace("%2e", ".").replace("%2E", ".");
    dots == "." || dots == ".."
}

fn segment(literal: BoxedStrategy<String>) -> impl Strategy<Value = Segment> {
    prop_oneof![
        3 => literal.prop_map(Segment::Literal),
        1 => Just(Segment::Single),
        1 => Just(Segment::Multi),
    ]
}

fn part(literal: BoxedStrategy<String>) -> impl Strategy<Value = Part> {
    let field_path = prop::collection::vec("[A-Za-z_][A-Za-z0-9_]{0,4}", 1..3);
    let inner = prop::option::of(prop::collection::vec(segment(literal.clone()), 1..3));
    prop_oneof![
        3 => segment(literal).prop_map(Part::Plain),
        1 => (field_path, inner).prop_map(|(path, inner)| Part::Variable(path, inner)),
    ]
}

/// Drafts of up to `max_parts` parts with literals from `literal`, fixed up
/// to be valid: only literals after `**`, each field path bound once, no
/// verb on the root template.
pub fn draft(literal: BoxedStrategy<String>, max_parts: usize) -> impl Strategy<Value = Draft> {
    let parts = prop::collection::vec(part(literal.clone()), 0..=max_parts);
    (parts, prop::option::of(literal)).prop_map(|(parts, verb)| fix_up(parts, verb))
}

fn fix_up(parts: Vec<Part>, verb: Option<String>) -> Draft {
    let mut after_multi = false;
    let mut only_literals = |segment: Segment| {
        let fixed = match segment {
            Segment::Literal(_) => segment,
            _ if after_multi => Segment::Literal("z".into()),
            _ => segment,
        };
        after_multi |= fixed == Segment::Multi;
        fixed
    };
    let mut bound = BTreeSet::new();
    let parts: Vec<Part> = parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| match part {
            Part::Plain(segment) => Part::Plain(only_literals(segment)),
            Part::Variable(mut path, inner) => {
                if !bound.insert(path.clone()) {
                    if let Some(last) = path.last_mut() {
                        last.push_str(&format!("_{i}"));
                    }
                    bound.insert(path.clone());
                }
                let short = inner.is_none();
                let inner: Vec<Segment> = inner
                    .unwrap_or_else(|| vec![Segment::Single])
                    .into_iter()
                    .map(&mut only_literals)
                    .collect();
                // `{x}` stays short unless `**` came before it (it is a `*`).
                let keep_short = short && inner == [Segment::Single];
                Part::Variable(path, Some(inner).filter(|_| !keep_short))
            }
        })
        .collect();
    let verb = verb.filter(|_| !parts.is_empty());
    Draft { parts, verb }
}

fn write_segment(out: &mut String, segment: &Segment) {
    match segment {
        Segment::Literal(text) => out.push_str(text),
        Segment::Single => out.push('*'),
        Segment::Multi => out.push_str("**"),
    }
}

fn write_segments(out: &mut String, segments: &[Segment]) {
    for (i, segment) in segments.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        write_segment(out, segment);
    }
}

/// The text of a draft.
pub fn text_of(draft: &Draft) -> String {
    let mut out = String::new();
    for part in &draft.parts {
        out.push('/');
        match part {
            Part::Plain(segment) => write_segment(&mut out, segment),
            Part::Variable(path, inner) => {
                out.push('{');
                out.push_str(&path.join("."));
                if let Some(inner) = inner {
                    out.push('=');
                    write_segments(&mut out, inner);
                }
                out.push('}');
            }
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    if let Some(verb) = &draft.verb {
        out.push(':');
        out.push_str(verb);
    }
    out
}

/// The text of a parsed template, written from its structure alone.
fn text_from_structure(template: &PathTemplate) -> String {
    let segments = template.segments();
    let mut out = String::new();
    let mut i = 0;
    while i < segments.len() {
        out.push('/');
        match template.variables().iter().find(|v| v.start == i) {
            Some(variable) => {
                out.push('{');
                out.push_str(&variable.field_path.join("."));
                out.push('=');
                write_segments(&mut out, &segments[variable.start..variable.end]);
                out.push('}');
                i = variable.end;
            }
            None => {
                write_segment(&mut out, &segments[i]);
                i += 1;
            }
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    if let Some(verb) = template.verb() {
        out.push(':');
        out.push_str(verb);
    }
    out
}

/// Segments, variables (field path, start, end) and verb: what "the same
/// structure" compares.
type Structure = (Vec<Segment>, Vec<(Vec<String>, usize, usize)>, Option<String>);

fn structure_of(template: &PathTemplate) -> Structure {
    let variables = template.variables().iter().map(|v| (v.field_path.clone(), v.start, v.end)).collect();
    (template.segments().to_vec(), variables, template.verb().map(str::to_owned))
}

fn structure_of_draft(draft: &Draft) -> Structure {
    let mut segments = Vec::new();
    let mut variables = Vec::new();
    for part in &draft.parts {
        match part {
            Part::Plain(segment) => segments.push(segment.clone()),
            Part::Variable(path, inner) => {
                let start = segments.len();
                match inner {
                    Some(inner) => segments.extend(inner.iter().cloned()),
                    None => segments.push(Segment::Single),
                }
                variables.push((path.clone(), start, segments.len()));
            }
        }
    }
    (segments, variables, draft.verb.clone())
}

/// Parsed again from its structure's text and from its `Display`, a
/// template keeps its structure.
fn assert_round_trips(template: &PathTemplate) -> Result<(), TestCaseError> {
    let rewritten = text_from_structure(template);
    let reparsed = PathTemplate::parse(&rewritten).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(structure_of(&reparsed), structure_of(template), "rewritten as {}", rewritten);
    let displayed =
        PathTemplate::parse(&template.to_string()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&displayed, template);
    Ok(())
}

proptest! {
    #![proptest_config(super::config())]

    #[test]
    fn a_generated_template_parses_to_its_structure_and_round_trips(draft in draft(any_literal(), 6)) {
        let text = text_of(&draft);
        let parsed = PathTemplate::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(structure_of(&parsed), structure_of_draft(&draft), "{}", text);
        assert_round_trips(&parsed)?;
    }

    #[test]
    fn any_text_that_parses_round_trips(text in "/[a-z{}=*/:.%2E_]{0,24}") {
        if let Ok(parsed) = PathTemplate::parse(&text) {
            assert_round_trips(&parsed)?;
        }
    }
}
