//! Properties checked on random input (proptest), each against a
//! statement simple enough to trust: templates round-trip through their
//! text, the router agrees with a naive matcher, path normalisation is
//! idempotent. The case counts stay modest so the suite stays fast.

mod normalize;
mod reference;
mod router;
mod template;

use proptest::test_runner::Config;

/// The proptest settings of every property here: 256 cases, unless
/// `PROPTEST_CASES` asks for another number (for a longer run by hand).
fn config() -> Config {
    let config = Config::default();
    match std::env::var_os("PROPTEST_CASES") {
        Some(_) => config,
        None => Config { cases: 256, ..config },
    }
}
