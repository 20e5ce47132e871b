//! External command-line tools the tests run (openapi-spec-validator,
//! schemathesis, from PyPI; .ci/run installs them): run one, or, when it is
//! not installed, fail under `CI=true` and skip loudly otherwise.

use std::process::Command;

/// Runs `tool` with `args`: whether it succeeded, and what it printed;
/// `None` (after a loud skip) when it is not installed and CI is not set.
pub fn run(tool: &str, args: &[&str]) -> Option<(bool, String)> {
    // In a directory of its own: schemathesis leaves a cache where it runs.
    let dir = tempfile::tempdir().ok()?;
    match Command::new(tool).args(args).current_dir(dir.path()).output() {
        Ok(output) => {
            let text = String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr);
            Some((output.status.success(), text))
        }
        Err(error) => {
            let message = format!("{tool} is not installed ({error}); .ci/run installs it with pip");
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
            eprintln!("SKIPPED: {message}");
            None
        }
    }
}
