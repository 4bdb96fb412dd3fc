#!/usr/bin/env bash
# Runs every benchmark in bench/ and prints its figures. Benchmarks never pass or fail on time.
# The probe benchmark builds network namespaces: run as root. PostgreSQL must be up for bench/store.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
for b in bench/*.ts; do
  printf '\n=== %s\n' "$b"
  npx tsx "$b"
done
