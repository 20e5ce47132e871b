//! The README shows examples/gateway.yaml, examples/edge.yaml and examples/tls.yaml verbatim, so
//! the example that a test compiles is the one a reader copies.

#[test]
fn the_readme_shows_the_example_config_verbatim() {
    let readme = include_str!("../../README.md");
    let example = include_str!("../../examples/gateway.yaml");
    assert!(readme.contains(example), "README.md must contain examples/gateway.yaml verbatim");
    let edge = include_str!("../../examples/edge.yaml");
    assert!(readme.contains(edge), "README.md must contain examples/edge.yaml verbatim");
    let tls = include_str!("../../examples/tls.yaml");
    assert!(readme.contains(tls), "README.md must contain examples/tls.yaml verbatim");
}
