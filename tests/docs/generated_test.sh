#!/bin/sh
# docs_generated: each reference copy under docs/reference is what its program prints now
# (`--generate`), so the docs read without building never drift from the programs.
#   generated_test.sh GENERATED_DIR DOCS_REFERENCE_DIR FILE...
set -u
gen=$1 docs=$2
shift 2
failed=0
for f in "$@"; do
  if [ ! -f "$gen/$f" ]; then
    echo "not generated: $gen/$f (build the package_files target)"
    failed=1
  elif ! cmp -s "$gen/$f" "$docs/$f"; then
    echo "docs/reference/$f is not what the program prints now:"
    diff -u "$docs/$f" "$gen/$f" | head -40
    failed=1
  else
    echo "docs/reference/$f: as generated"
  fi
done
[ "$failed" -eq 0 ] || echo "refresh them with: cmake --build build --target docs"
exit "$failed"
