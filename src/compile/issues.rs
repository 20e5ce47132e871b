//! Compile errors: every problem of a config, each with its place
//! (`routes[0].upstream`), collected so that one run reports them all.

use std::fmt;

use super::Place;

/// One problem, and where in the config it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// The place: a path into the config such as `routes[2].grpc.upstream`.
    pub place: Place,
    /// What is wrong.
    pub message: String,
}

/// Every problem a config has.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
pub struct CompileErrors {
    /// The problems, in the order of the config.
    pub issues: Vec<ConfigIssue>,
}

impl CompileErrors {
    /// Records a problem.
    pub fn push(&mut self, place: impl Into<Place>, message: impl fmt::Display) {
        self.issues.push(ConfigIssue { place: place.into(), message: message.to_string() });
    }

    /// Records the problems of `other` after these.
    pub fn extend(&mut self, other: CompileErrors) {
        self.issues.extend(other.issues);
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.issues.is_empty()
    }
}

impl fmt::Display for CompileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, issue) in self.issues.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{}: {}", issue.place, issue.message)?;
        }
        Ok(())
    }
}

/// `unknown upstream "libary" (did you mean "library"?)`: the closest known
/// name, when one is close enough to be a likely typo.
pub fn unknown_name<'a>(kind: &str, name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    match crate::suggest::closest(name, known) {
        Some(candidate) => format!("unknown {kind} {name:?} (did you mean {candidate:?}?)"),
        None => format!("unknown {kind} {name:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_name_only_when_close() {
        assert_eq!(
            unknown_name("upstream", "libary", ["library", "echo"]),
            r#"unknown upstream "libary" (did you mean "library"?)"#
        );
        assert_eq!(unknown_name("upstream", "zzz", ["library"]), r#"unknown upstream "zzz""#);
    }

    #[test]
    fn lists_every_issue_on_its_own_line() {
        let mut errors = CompileErrors::default();
        errors.push(Place::root().key("listen"), "bad");
        errors.push(Place::root().key("routes").index(0).key("grpc").key("upstream"), "worse");
        assert_eq!(errors.to_string(), "listen: bad\nroutes[0].grpc.upstream: worse");
    }
}
