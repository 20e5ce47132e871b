//! Closest-name suggestions for error messages: the "did you mean" of a
//! misspelt name, shared by config compilation and field-path resolution.

/// The name in `known` closest to `name` by Levenshtein distance, when it
/// is close enough to be a likely typo: at most a third of the candidate's
/// length away, and never refused for being 2 edits or fewer away. Ties go
/// to the name that sorts first.
pub fn closest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|candidate| (strsim::levenshtein(name, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(2))
        .min()
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn only_close_names_are_suggested() {
        assert_eq!(closest("libary", ["library", "echo"]), Some("library"));
        assert_eq!(closest("titel", ["title", "id"]), Some("title"));
        assert_eq!(closest("zzzzzz", ["title", "id"]), None);
        assert_eq!(closest("x", []), None);
    }
}
