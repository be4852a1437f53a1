// How an exercise's test program is built with clang in WebAssembly (@yowasp/clang):
// the file layout, the flags and the three clang commands. Shared by the page's
// compiler worker and by the Vite plugin (web/plugins/exercises.js) that builds
// the unchanging half — doctest's implementation and the precompiled prelude —
// once, at build time. Plain JS, no browser or node API.
//
// Layout of the virtual file system every command sees:
//   include/doctest/doctest.h      Debian's doctest-dev header, shipped with the page
//   common/*.hpp, common/main.cpp  exercises/common: the lab header, test helpers, main
//   prelude.pch, prelude.o         common/prelude.hpp, precompiled, and the code of
//                                  its inline functions and templates
//   main.o                         common/main.cpp, compiled
//   exercise.cpp, test.cpp         the learner's code and the exercise's tests
//
// The flags are exercises/common/flags.txt, the ones g++ uses natively, plus what
// WASI needs here: doctest's signal emulation, and a stack as large as Linux's
// default (8 MiB: a big local array that works natively must work here too) placed
// first in memory, so that a stack overflow traps instead of corrupting the heap.
//
// The prelude is precompiled with its templates instantiated and its inline
// functions compiled once into prelude.o (clang's -fpch-instantiate-templates
// and -fpch-codegen): a test.cpp then compiles in ~60 % of the time, and still
// inlines them. Measured with @yowasp/clang under node: 4.0 s plain PCH, 3.5 s
// with instantiation, 2.4 s with both (exercise 1's tests).

/** flags.txt's text -> its flags (comments and blank lines dropped). */
export function parseFlags(text) {
  return text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}

const wasiFlags = ['-D_WASI_EMULATED_SIGNAL', '-msimd128'];
const includes = ['-Iinclude', '-Icommon'];
const linkFlags = ['-fno-exceptions', '-Wl,--stack-first', '-Wl,-z,stack-size=8388608',
  '-lwasi-emulated-signal'];

/** clang++ arguments that precompile the prelude into prelude.pch. */
export function pchCommand(flags) {
  return ['clang++', ...flags, ...wasiFlags, ...includes, '-fpch-instantiate-templates', '-fpch-codegen',
    '-x', 'c++-header', 'common/prelude.hpp', '-o', 'prelude.pch'];
}

/** clang++ arguments that compile the code prelude.pch holds into prelude.o. */
export function pchObjectCommand(flags) {
  return ['clang++', ...flags, ...wasiFlags, ...includes, '-c', 'prelude.pch', '-o', 'prelude.o'];
}

/** clang++ arguments that compile common/main.cpp into main.o. */
export function mainCommand(flags) {
  return ['clang++', ...flags, ...wasiFlags, ...includes, '-c', 'common/main.cpp', '-o', 'main.o'];
}

/** clang++ arguments that compile test.cpp (which includes exercise.cpp) into test.o. */
export function testCommand(flags) {
  return ['clang++', ...flags, ...wasiFlags, ...includes, '-include-pch', 'prelude.pch',
    '-fno-color-diagnostics', '-c', 'test.cpp', '-o', 'test.o'];
}

/** clang++ arguments that link test.o, prelude.o and main.o into test.wasm. */
export function linkCommand() {
  return ['clang++', 'test.o', 'prelude.o', 'main.o', ...linkFlags, '-o', 'test.wasm'];
}

/**
 * The file tree for @yowasp/clang's runClang.
 * common: { 'memlab_lab.hpp': text, ... }; doctest: doctest.h's text;
 * extra: more top-level entries (exercise.cpp, prelude.pch, main.o, ...).
 */
export function fileTree({ common, doctest, extra = {} }) {
  return { include: { doctest: { 'doctest.h': doctest } }, common: { ...common }, ...extra };
}
