#!/usr/bin/env bash
# Mutation testing with cargo-mutants: puts small bugs into the code one at
# a time and runs the tests against each; a mutant the tests do not catch
# ("missed") is a behaviour no test holds. A command of its own, not CI:
# the whole tree takes hours on two cores.
#
#   scripts/mutants.sh                     every mutant of the tree
#   scripts/mutants.sh --shard 3/25        one shard (round-robin: a sample of the whole tree)
#   scripts/mutants.sh --in-diff [BASE]    only mutants in lines changed since BASE (default: main)
#   scripts/mutants.sh -f src/upstream/health/checker.rs   one file (repeatable; a glob works)
#   scripts/mutants.sh ... --cargo-test-arg=--lib    only the unit tests (faster; undercounts)
#   scripts/mutants.sh ... -- rate_limit::           only tests whose names match (faster; undercounts)
#
# Other arguments go to cargo-mutants as they are (`--list`, `-j 2`, `--timeout 300`...).
# Results: mutants.out/ (caught.txt, missed.txt, timeout.txt, unviable.txt, outcomes.json).
# Equivalent mutants are excluded in .cargo/mutants.toml, each with its reason.
#
# CI=true: a test whose external component (redis-server...) is missing
# fails instead of skipping, so that a skip is never counted as a catch.
# The build directory is kept between runs (MUTANTS_TARGET_DIR, default
# target/mutants) so that only the first run builds the dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo mutants --version >/dev/null 2>&1; then
    echo "cargo-mutants is missing: cargo install cargo-mutants --locked" >&2
    cargo install cargo-mutants --locked
fi

args=()
diff_file=""
cleanup() { [[ -n "$diff_file" ]] && rm -f "$diff_file"; }
trap cleanup EXIT
while [[ $# -gt 0 ]]; do
    case "$1" in
        --shard)
            args+=(--shard "$2" --sharding round-robin)
            shift 2
            ;;
        --in-diff)
            base=main
            if [[ $# -gt 1 && "$2" != -* ]]; then
                base="$2"
                shift
            fi
            diff_file="$(mktemp)"
            git diff "$base"... -- src > "$diff_file"
            if [[ ! -s "$diff_file" ]]; then
                echo "no change under src/ since $base: no mutant to test"
                exit 0
            fi
            args+=(--in-diff "$diff_file")
            shift
            ;;
        --)
            args+=("$@")
            break
            ;;
        *)
            args+=("$1")
            shift
            ;;
    esac
done

export CI=true
export CARGO_TARGET_DIR="${MUTANTS_TARGET_DIR:-$PWD/target/mutants}"
exec cargo mutants "${args[@]}"
