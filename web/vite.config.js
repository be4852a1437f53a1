// Vite config for memlab's static page.
//
// The page runs the C++ core compiled to WebAssembly. Its build output (memlab.mjs,
// memlab-core.js, memlab-core.wasm) lives outside web/, in the CMake build tree; the
// source reaches it through the alias `@memlab/wasm`. Override the folder with
// MEMLAB_WASM_DIR (absolute, or relative to web/).
//
// base './' makes dist/ relocatable: it works from any sub-path of any static file
// server, with no special headers (single-threaded wasm, no SharedArrayBuffer).
import { defineConfig } from 'vite';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const webDir = path.dirname(fileURLToPath(import.meta.url));
const wasmDir = path.resolve(webDir, process.env.MEMLAB_WASM_DIR || '../build/wasm/wasm');
const wasmFiles = ['memlab.mjs', 'memlab-core.js', 'memlab-core.wasm'];

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
    resolve: { alias: { '@memlab/wasm': wasmDir } },
    worker: { format: 'es' },
    server: { fs: { allow: [webDir, wasmDir, path.resolve(webDir, '../data')] } },
    build: {
      outDir: 'dist',
      emptyOutDir: true,
      target: 'es2022',
      // the .wasm stays a file of its own, fetched by the worker (never a data: URL)
      assetsInlineLimit: (file) => (file.endsWith('.wasm') ? false : undefined),
    },
  };
});
