//! The segment trie of one HTTP method. Literal children are kept sorted
//! by canonical form and found by binary search; `*` and `**` have one
//! child each. The search backtracks in order of specificity (literal,
//! then `*`, then `**`) and offers each candidate route to the caller, who
//! may refuse it (a capture that does not decode), so the search goes on.

use super::decode::{canonical, cmp_canonical};
use crate::http_rule::Segment;

/// The templates of one method.
#[derive(Default)]
pub(super) struct Trie {
    root: Node,
    /// Every verb the method's templates use, canonical, sorted.
    verbs: Vec<Box<str>>,
}

#[derive(Default)]
struct Node {
    /// Sorted by the canonical literal.
    literals: Vec<(Box<str>, Node)>,
    single: Option<Box<Node>>,
    multi: Option<Box<Multi>>,
    /// The routes that end here.
    leaf: Leaf,
}

/// The subtree after a `**`, which holds literals only (the grammar allows
/// nothing else after `**`).
#[derive(Default)]
struct Multi {
    node: Node,
    /// The most literals any template has after this `**`.
    depth: usize,
}

/// Routes by verb: the one without a verb, and the ones with (sorted).
#[derive(Default)]
struct Leaf {
    plain: Option<usize>,
    verbs: Vec<(Box<str>, usize)>,
}

impl Trie {
    /// Files `route` under a template's segments and verb; if another
    /// route already sits there, returns that route instead.
    pub(super) fn insert(
        &mut self,
        segments: &[Segment],
        verb: Option<&str>,
        route: usize,
    ) -> Result<(), usize> {
        let verb = verb.map(canonical);
        if let Some(verb) = &verb
            && let Err(at) = self.verbs.binary_search(verb)
        {
            self.verbs.insert(at, verb.clone());
        }
        let multi_at = segments.iter().position(|segment| *segment == Segment::Multi);
        let suffix = multi_at.map_or(0, |at| segments.len() - at - 1);
        let mut node = &mut self.root;
        for segment in segments {
            node = match segment {
                Segment::Literal(text) => node.literal_mut(canonical(text)),
                Segment::Single => node.single.get_or_insert_default(),
                Segment::Multi => {
                    let multi = node.multi.get_or_insert_default();
                    multi.depth = multi.depth.max(suffix);
                    &mut multi.node
                }
            };
        }
        let slot = match verb {
            None => &mut node.leaf.plain,
            Some(verb) => {
                let verbs = &mut node.leaf.verbs;
                match verbs.binary_search_by(|(known, _)| known.cmp(&verb)) {
                    Ok(at) => return Err(verbs[at].1),
                    Err(at) => {
                        verbs.insert(at, (verb, route));
                        return Ok(());
                    }
                }
            }
        };
        match slot {
            Some(existing) => Err(*existing),
            None => {
                *slot = Some(route);
                Ok(())
            }
        }
    }

    /// Whether some template of this method has the verb (raw request text).
    pub(super) fn has_verb(&self, verb: &str) -> bool {
        self.verbs.binary_search_by(|known| cmp_canonical(known, verb)).is_ok()
    }

    /// Offers `accept` the routes matching `segments` and `verb`, most
    /// specific first, until it takes one.
    pub(super) fn find<R>(
        &self,
        segments: &[&str],
        verb: Option<&str>,
        accept: impl FnMut(usize) -> Option<R>,
    ) -> Option<R> {
        Search { segments, verb, accept }.node(&self.root, 0)
    }
}

impl Node {
    fn literal_mut(&mut self, text: Box<str>) -> &mut Node {
        let at = match self.literals.binary_search_by(|(known, _)| known.cmp(&text)) {
            Ok(at) => at,
            Err(at) => {
                self.literals.insert(at, (text, Node::default()));
                at
            }
        };
        &mut self.literals[at].1
    }

    fn literal(&self, segment: &str) -> Option<&Node> {
        let at = self.literals.binary_search_by(|(known, _)| cmp_canonical(known, segment)).ok()?;
        self.literals.get(at).map(|(_, node)| node)
    }

    fn route(&self, verb: Option<&str>) -> Option<usize> {
        match verb {
            None => self.leaf.plain,
            Some(verb) => {
                let verbs = &self.leaf.verbs;
                let at = verbs.binary_search_by(|(known, _)| cmp_canonical(known, verb)).ok()?;
                verbs.get(at).map(|&(_, route)| route)
            }
        }
    }
}

/// One backtracking search. Recursion follows trie edges, so its depth is
/// bounded by the longest template, whatever the request.
struct Search<'s, A> {
    segments: &'s [&'s str],
    verb: Option<&'s str>,
    accept: A,
}

impl<R, A: FnMut(usize) -> Option<R>> Search<'_, A> {
    /// Matches `segments[i..]` below `node`.
    fn node(&mut self, node: &Node, i: usize) -> Option<R> {
        match self.segments.get(i).copied() {
            None => {
                if let Some(found) = node.route(self.verb).and_then(&mut self.accept) {
                    return Some(found);
                }
            }
            Some(segment) => {
                if let Some(found) = node.literal(segment).and_then(|child| self.node(child, i + 1)) {
                    return Some(found);
                }
                if let Some(found) = node.single.as_deref().and_then(|child| self.node(child, i + 1)) {
                    return Some(found);
                }
            }
        }
        node.multi.as_deref().and_then(|multi| self.multi(multi, i))
    }

    /// `**` at `segments[i]`: each literal suffix below it is tried against
    /// the end of the request, longest first, so that `**` takes the least.
    fn multi(&mut self, multi: &Multi, i: usize) -> Option<R> {
        let left = self.segments.len().saturating_sub(i);
        for take in (0..=multi.depth.min(left)).rev() {
            let tail = self.segments.get(self.segments.len() - take..).unwrap_or_default();
            let end = tail.iter().try_fold(&multi.node, |node, segment| node.literal(segment));
            if let Some(found) = end.and_then(|node| node.route(self.verb)).and_then(&mut self.accept) {
                return Some(found);
            }
        }
        None
    }
}
