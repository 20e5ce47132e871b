#!/usr/bin/env bash
# Runs every fuzz target for a bounded time, one after the other:
#
#   fuzz/run.sh [seconds-per-target] [target...]   (default 60 s, every target)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`) and a C++
# compiler; builds on the stable toolchain with RUSTC_BOOTSTRAP=1 (the
# sanitizer flags are nightly-only). The committed seeds (fuzz/seeds/<target>/)
# are copied into the working corpus (fuzz/corpus/<target>/, ignored by git)
# before each run; crashes land in fuzz/artifacts/<target>/. Not part of CI.
set -euo pipefail

cd "$(dirname "$0")"
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi

export RUSTC_BOOTSTRAP=1
cargo fuzz build -O

failed=()
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    if [ -d "seeds/$target" ]; then
        cp -n "seeds/$target"/* "corpus/$target/" 2>/dev/null || true
    fi
    echo "=== $target: ${seconds}s"
    # One process, one job: the machine is shared. -rss_limit_mb bounds a
    # runaway allocation; -max_len keeps inputs small enough to mean something.
    if ! cargo fuzz run -O "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1; then
        failed+=("$target")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "findings in: ${failed[*]} (see fuzz/artifacts/)" >&2
    exit 1
fi
echo "no findings in: ${targets[*]}"
