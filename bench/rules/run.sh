#!/usr/bin/env bash
# Builds and runs the rule-evaluation benchmark against the release build.
# Usage: bench/rules/run.sh [SECONDS_PER_MEASURE]   (run tools/test --quick first)
set -euo pipefail
cd "$(dirname "$0")/../.."
b=build/ci-release
cc -O2 -g -std=gnu11 -I. bench/rules/bench_rules.c "$b/libadj_app.a" "$b/libadj_rules.a" \
   "$b/libadj_base.a" $(pkg-config --libs libxxhash) -o "$b/bench_rules"
"$b/bench_rules" . "${1:-1}"
