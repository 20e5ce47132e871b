//! What a new route table changes: the routes it adds, removes and changes,
//! a route being known by its method and template. For a reload's dry run
//! and `protogate diff`, before anything is swapped.

use std::{collections::BTreeMap, fmt};

use serde::Serialize;

use super::RouteSummary;

/// One route whose method and template stay but whose target changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangedRoute {
    /// The route as it is.
    pub before: RouteSummary,
    /// The route as it would be.
    pub after: RouteSummary,
}

/// The difference between two route tables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RouteDiff {
    /// Routes only the new table has.
    pub added: Vec<RouteSummary>,
    /// Routes only the old table has.
    pub removed: Vec<RouteSummary>,
    /// Routes both have, with another target, body, reply field or upstream.
    pub changed: Vec<ChangedRoute>,
}

impl RouteDiff {
    /// What `after` changes in `before`, each list in the tables' order.
    pub fn between(before: &[RouteSummary], after: &[RouteSummary]) -> Self {
        let key = |route: &RouteSummary| (route.method.clone(), route.template.clone());
        let old: BTreeMap<_, &RouteSummary> = before.iter().map(|route| (key(route), route)).collect();
        let new: BTreeMap<_, &RouteSummary> = after.iter().map(|route| (key(route), route)).collect();
        let mut diff = Self::default();
        for route in after {
            match old.get(&key(route)) {
                None => diff.added.push(route.clone()),
                Some(&was) if was != route => {
                    diff.changed.push(ChangedRoute { before: was.clone(), after: route.clone() })
                }
                Some(_) => {}
            }
        }
        diff.removed = before.iter().filter(|route| !new.contains_key(&key(route))).cloned().collect();
        diff
    }

    /// Whether the tables route the same.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// One line per route: `+ GET /v1/x → pkg.S/M (upstream)`, `-` and `~`.
impl fmt::Display for RouteDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = |route: &RouteSummary| {
            format!("{} {} → {} ({})", route.method, route.template, route.target, route.upstream)
        };
        if self.is_empty() {
            return writeln!(f, "no route changes");
        }
        for route in &self.added {
            writeln!(f, "+ {}", line(route))?;
        }
        for route in &self.removed {
            writeln!(f, "- {}", line(route))?;
        }
        for ChangedRoute { before, after } in &self.changed {
            writeln!(f, "~ {} (was {})", line(after), line(before))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, template: &str, target: &str) -> RouteSummary {
        RouteSummary {
            method: method.into(),
            template: template.into(),
            target: target.into(),
            body: String::new(),
            response_body: String::new(),
            upstream: "demo".into(),
            policies: Vec::new(),
        }
    }

    #[test]
    fn routes_are_added_removed_and_changed_by_method_and_template() {
        let before = [route("GET", "/a", "S/A"), route("GET", "/b", "S/B"), route("POST", "/a", "S/C")];
        let after = [route("GET", "/a", "S/A"), route("GET", "/b", "S/B2"), route("GET", "/c", "S/C")];
        let diff = RouteDiff::between(&before, &after);
        assert_eq!(diff.added, [route("GET", "/c", "S/C")]);
        assert_eq!(diff.removed, [route("POST", "/a", "S/C")]);
        assert_eq!(diff.changed, [ChangedRoute { before: before[1].clone(), after: after[1].clone() }]);
        assert_eq!(
            diff.to_string(),
            "+ GET /c → S/C (demo)\n- POST /a → S/C (demo)\n~ GET /b → S/B2 (demo) (was GET /b → S/B (demo))\n"
        );
        assert!(RouteDiff::between(&before, &before).is_empty());
    }
}
