//! The path-template parser on any text: never a panic; a template that
//! parses parses again from its `Display` to the same template.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protogate::http_rule::PathTemplate;

fuzz_target!(|text: &str| {
    if let Ok(template) = PathTemplate::parse(text) {
        let again = PathTemplate::parse(&template.to_string()).expect("a displayed template parses");
        assert_eq!(again, template);
        for variable in template.variables() {
            assert!(variable.start <= variable.end && variable.end <= template.segments().len());
        }
    }
});
