// Vite config for memlab's static page.
//
// The page runs the C++ core compiled to WebAssembly. Its build output (memlab.mjs,
// schema.mjs, memlab-core.js, memlab-core.wasm) lives outside web/, in the CMake build tree; the
// source reaches it through the alias `@memlab/wasm`. Override the folder with
// MEMLAB_WASM_DIR (absolute, or relative to web/).
//
// base './' makes dist/ relocatable: it works from any sub-path of any static file
// server, with no special headers (single-threaded wasm, no SharedArrayBuffer).
import { defineConfig } from 'vite';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { memlabExercises } from './plugins/exercises.js';

const webDir = path.dirname(fileURLToPath(import.meta.url));
const wasmDir = path.resolve(webDir, process.env.MEMLAB_WASM_DIR || '../build/wasm/wasm');
const wasmFiles = ['memlab.mjs', 'schema.mjs', 'memlab-core.js', 'memlab-core.wasm'];
// The exercises: their folders (README.md, exercise.cpp, test.cpp — never
// solution.cpp) and what plugins/exercises.js generates for the in-browser compiler.
const exercisesDir = path.resolve(webDir, '..', 'exercises');
const generatedDir = path.join(webDir, '.generated', 'exercises');

function checkWasmDir() {
  const missing = wasmFiles.filter((f) => !existsSync(path.join(wasmDir, f)));
  if (missing.length > 0) {
    const message =
      `memlab: the wasm module is missing in ${wasmDir} (no ${missing.join(', ')}).\n` +
      '  build the wasm module first: cmake --workflow --preset wasm   (from the repository root)\n' +
      '  or point MEMLAB_WASM_DIR at a folder holding ' + wasmFiles.join(', ') + '.';
    const error = new Error(message);
    error.stack = `Error: ${message}`; // the reason, without a stack trace through Vite's loader
    throw error;
  }
}

export default defineConfig(({ command, isPreview }) => {
  if (command === 'build' || (command === 'serve' && !isPreview)) checkWasmDir();
  return {
    base: './',
    plugins: [memlabExercises({ exercisesDir, outDir: generatedDir })],
    resolve: {
      alias: { '@memlab/wasm': wasmDir, '@exercises': exercisesDir, '@exercises-generated': generatedDir },
    },
    worker: { format: 'es' },
    server: { fs: { allow: [webDir, wasmDir, exercisesDir, path.resolve(webDir, '../data')] } },
    // @yowasp/clang finds its ~100 MB of wasm and resources with
    // new URL('./file', import.meta.url): kept out of the dev pre-bundle so those
    // URLs stay valid; the build emits the files as assets of the site.
    optimizeDeps: { exclude: ['@yowasp/clang'] },
    build: {
      outDir: 'dist',
      emptyOutDir: true,
      target: 'es2022',
      // the exercises' chunk holds CodeMirror and marked (~680 kB, ~220 kB gzipped),
      // loaded after the experiments; the compiler (~100 MB) only on first use
      chunkSizeWarningLimit: 1000,
      // wasm modules, clang's resources, objects and headers stay files of their
      // own, fetched by the workers (never data: URLs)
      assetsInlineLimit: (file) => (/\.(wasm|tar|o|pch|h|txt)$/.test(file) ? false : undefined),
    },
  };
});
