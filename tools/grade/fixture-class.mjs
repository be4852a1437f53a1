// A fixture class of three students, for testing the grader (fixture-class.test.mjs,
// natively) and the page (web/e2e/grader.test.mjs, in Chromium) on the same files
// with the same expected verdicts: the gradebook and the browser must agree.
//
//   alice  every exercise: a copy of its reference solution        -> passed everywhere
//   bob    every exercise, three with a planted bug                -> some cases fail
//   carol  a syntax error, an infinite loop, an abort, an untouched skeleton,
//          the other exercises missing
//
// The files are made from the repository's solution.cpp and exercise.cpp when the
// tests run (never committed copies). Each change is a literal replacement that
// must be found, so a rewritten solution breaks the fixture loudly, not silently.
// `expect` is the gradebook's cell (tools/grade/grade-class): passed,
// "N of M cases failed", does not compile, timeout, crashed, missing.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const exercisesDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'exercises');

const read = (slug, file) => readFileSync(path.join(exercisesDir, slug, file), 'utf8');

function replaced(text, from, to, where) {
  if (!text.includes(from)) throw new Error(`fixture class: "${from}" not found in ${where}: update tools/grade/fixture-class.mjs`);
  return text.replace(from, to);
}

// base: 'solution' or 'skeleton'; changes: [from, to] pairs, applied in order.
function file(slug, base, ...changes) {
  const name = base === 'solution' ? 'solution.cpp' : 'exercise.cpp';
  return changes.reduce((text, [from, to]) => replaced(text, from, to, `exercises/${slug}/${name}`), read(slug, name));
}

// every exercise folder of the tree (NN-slug), so a new exercise joins the class
export const slugs = readdirSync(exercisesDir).filter((f) => /^\d\d-/.test(f)).sort();

const passes = (slug) => ({ slug, why: 'a copy of the reference solution', code: () => file(slug, 'solution'), expect: 'passed' });

// The planted bugs and broken files; `why` says what a grader would see.
const bob = {
  '01-online-softmax': {
    why: 'softmax_merge adds the sums without rescaling them to the common max',
    code: () => file('01-online-softmax', 'solution',
      ['a.sum * std::exp(a.max - max) + b.sum * std::exp(b.max - max)', 'a.sum + b.sum']),
    expect: '1 of 5 cases failed',
  },
  '04-gqa': {
    why: 'kv_cache_bytes forgets that K and V are both cached (no factor 2)',
    code: () => file('04-gqa', 'solution', ['return 2 * std::uint64_t{m.layers}', 'return std::uint64_t{m.layers}']),
    expect: '1 of 5 cases failed',
  },
  '07-q8-0': {
    why: 'quantize_q8_0 truncates x / scale instead of rounding it',
    code: () => file('07-q8-0', 'solution', ['std::lround(xb[i] / scale)', 'static_cast<long>(xb[i] / scale)']),
    expect: '3 of 6 cases failed',
  },
};

const carol = {
  '01-online-softmax': {
    why: 'a syntax error (a missing semicolon)',
    code: () => file('01-online-softmax', 'solution', ['s.max = x;', 's.max = x']),
    expect: 'does not compile',
  },
  '03-causal-attention': {
    why: 'an infinite loop in causal_flash_attention',
    code: () => file('03-causal-attention', 'skeleton',
      ['return 0;', 'for (volatile unsigned spin = 0;; spin = spin + 1) {\n  }\n  return 0;']),
    expect: 'timeout',
  },
  '07-q8-0': {
    why: 'dequantize_q8_0 calls std::abort()',
    code: () => file('07-q8-0', 'solution', ['#include <cstdint>\n', '#include <cstdint>\n#include <cstdlib>\n'],
      ['lab::span<float> out) {\n', 'lab::span<float> out) {\n  std::abort();\n']),
    expect: 'crashed',
  },
  '09-checkpointing': {
    why: 'the skeleton, untouched',
    code: () => file('09-checkpointing', 'skeleton'),
    expect: '5 of 5 cases failed',
  },
};

const student = (planted) => slugs.map((slug) => (planted[slug] ? { slug, ...planted[slug] } : passes(slug)));

/** [{ name, exercises: [{ slug, why, code() -> text | absent: missing, expect }] }] */
export const fixtureClass = [
  { name: 'alice', exercises: student({}) },
  { name: 'bob', exercises: student(bob) },
  {
    name: 'carol',
    exercises: slugs.map((slug) => (carol[slug] ? { slug, ...carol[slug] }
      : { slug, why: 'not handed in', code: null, expect: 'missing' })),
  },
];
