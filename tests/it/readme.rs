//! The README shows examples/gateway.yaml verbatim, so the example that a
//! test compiles is the one a reader copies.

#[test]
fn the_readme_shows_the_example_config_verbatim() {
    let readme = include_str!("../../README.md");
    let example = include_str!("../../examples/gateway.yaml");
    assert!(readme.contains(example), "README.md must contain examples/gateway.yaml verbatim");
}
