#!/usr/bin/env bash
# format.sh — memlab's C++ formatting: clang-format-14 (Debian) with the repo's
# .clang-format over every C++ file git knows in core, wasm, tools, tests and exercises.
#
#   tools/format.sh           reformat in place
#   tools/format.sh --check   list the files that differ and fail (./lab test runs this)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format-14 >/dev/null || { echo "format.sh: clang-format-14 is missing (apt-get install clang-format-14)" >&2; exit 2; }
mapfile -t files < <(git ls-files -- core wasm tools tests exercises | grep -E '\.(cpp|hpp|h)$')
if [ "${1:-}" = "--check" ]; then
  bad=()
  for f in "${files[@]}"; do
    [ -f "$f" ] || continue
    clang-format-14 --style=file "$f" | cmp -s - "$f" || bad+=("$f")
  done
  if ((${#bad[@]})); then
    echo "format.sh: ${#bad[@]} of ${#files[@]} files differ from clang-format-14 (run tools/format.sh):"
    printf '  %s\n' "${bad[@]}"
    exit 1
  fi
  echo "format.sh: ${#files[@]} files formatted as clang-format-14 formats them"
else
  clang-format-14 -i --style=file "${files[@]}"
fi
