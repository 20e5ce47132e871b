//! The path normaliser on any text: never a panic, idempotent, and what it
//! returns is absolute with no `//`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protogate::router::normalize_path;

fuzz_target!(|path: &str| {
    if let Some(once) = normalize_path(path) {
        assert!(once.starts_with('/') && !once.contains("//"), "{path:?} → {once:?}");
        assert_eq!(normalize_path(&once).as_deref(), Some(&*once), "{path:?}");
    }
});
