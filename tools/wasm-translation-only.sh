#!/usr/bin/env bash
# wasm-translation-only.sh — wasm/ translates types and errors, nothing else: the
# experiments (seeding, inputs, timing, the settings of a run, the cases it
# loops over) live in core/*/experiment.hpp, where the CLI and the tests call
# them too. This check fails when a binding file holds such logic.
#
#   tools/wasm-translation-only.sh            check wasm/*.cpp and wasm/*.hpp
#   tools/wasm-translation-only.sh FILE...    check these files
#   tools/wasm-translation-only.sh --self-test   the check must fail on
#       tests/fixtures/wasm_with_logic.cpp.txt, naming each of its lines 4-10
#
# It reads code with // comments removed, line by line; each rule is a pattern
# and what a match means. Grep-level on purpose: it names the line to move.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--self-test" ]; then
  fixture=tests/fixtures/wasm_with_logic.cpp.txt
  out=$("$0" "$fixture" 2>/dev/null) && { echo "self-test: $fixture passed the check"; exit 1; }
  named=$(sed -n "s|^$fixture:\([0-9]*\):.*|\1|p" <<<"$out" | sort -n | tr '\n' ' ')
  [ "$named" = "4 5 6 7 8 9 10 " ] || { echo "self-test: named lines '$named', expected 4-10"; exit 1; }
  echo "self-test: the check names all 7 kinds of logic in $fixture"
  exit 0
fi
if (($#)); then files=("$@"); else files=(wasm/*.cpp wasm/*.hpp); fi

rules=(
  '\brng\b|random_normal|random_uniform|<random>|mt19937|std::rand\b'
  'seeds or draws random numbers'
  '<chrono>|chrono::|steady_clock|emscripten_get_now|performance\.now|\bmeasure\('
  'times a run'
  '\bsampling[[:space:]]+[a-z_]+[[:space:]]*[;{(=]|\.temperature[[:space:]]*=|\.top_k[[:space:]]*='
  'chooses sampling settings'
  '\bstruct[[:space:]]+[a-z_]*config\b'
  'defines a config (configs and their defaults belong to core)'
  '(gpt::model|mlp_stack|lora::model|train::options)[[:space:]]+[a-z_]+[[:space:]]*[({;]'
  'builds a model or the inputs of a run'
  'for[[:space:]]*\(.*:[[:space:]]*\{'
  'loops over cases it chose'
  '\bdownsample\(|std::min\(|std::max\(|std::sort\(|std::accumulate\('
  'computes figures'
)

failed=0
for f in "${files[@]}"; do
  [ -f "$f" ] || { echo "$f: no such file"; failed=1; continue; }
  code=$(sed -e 's://.*$::' "$f")
  for ((i = 0; i < ${#rules[@]}; i += 2)); do
    while IFS= read -r hit; do
      [ -n "$hit" ] || continue
      echo "$f:${hit%%:*}: ${rules[i + 1]}: ${hit#*:}"
      failed=1
    done < <(grep -nE -- "${rules[i]}" <<<"$code")
  done
done
if ((failed)); then
  echo "wasm-translation-only.sh: move this logic into the technique's core/*/experiment.hpp" >&2
  exit 1
fi
echo "wasm-translation-only.sh: ${#files[@]} files translate only"
