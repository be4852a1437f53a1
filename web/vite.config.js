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
import { VitePWA } from 'vite-plugin-pwa';
import { memlabExercises } from './plugins/exercises.js';
import { memlabIcons, iconSizes } from './plugins/icons.js';

const webDir = path.dirname(fileURLToPath(import.meta.url));
const wasmDir = path.resolve(webDir, process.env.MEMLAB_WASM_DIR || '../build/wasm/wasm');
const wasmFiles = ['memlab.mjs', 'schema.mjs', 'memlab-core.js', 'memlab-core.wasm'];
// The exercises: their folders (README.md, exercise.cpp, test.cpp — never
// solution.cpp) and what plugins/exercises.js generates for the in-browser compiler.
const exercisesDir = path.resolve(webDir, '..', 'exercises');
const generatedDir = path.join(webDir, '.generated', 'exercises');

// Offline (vite-plugin-pwa, Workbox): a service worker precaches the page, its
// scripts and styles, the core module and the trained model: everything the
// experiments need. The exercises' compiler toolchain (@yowasp/clang's ~75 MB
// wasm, ~30 MB resources, the precompiled prelude) is not precached: most
// visitors never compile. The compiler worker keeps each of those files in Cache
// Storage the first time it fetches them (src/exercises/compiler.worker.js), so
// after one Compile & Test online it works offline too. The manifest makes the
// page installable. All URLs are relative (base './'): the worker's scope is the
// folder the page is served from, whatever the sub-path.
const offline = VitePWA({
  registerType: 'autoUpdate',
  injectRegister: 'script',
  manifest: {
    name: 'memlab — memory techniques for LLMs',
    short_name: 'memlab',
    description: 'Experiments on the memory techniques that make large language models fit, run in your browser.',
    start_url: './',
    scope: './',
    display: 'standalone',
    background_color: '#ffffff',
    theme_color: '#1c7ed6',
    icons: iconSizes.map((size) => ({ src: `icon-${size}.png`, sizes: `${size}x${size}`, type: 'image/png', purpose: 'any' })),
  },
  workbox: {
    globPatterns: ['**/*.{html,js,css,png,svg,bin}', 'assets/memlab-core-*.wasm'],
    // the toolchain's files stay out (see above); this bound keeps any new large
    // asset from silently growing the download every visitor makes
    maximumFileSizeToCacheInBytes: 3 * 1024 * 1024,
    navigateFallback: 'index.html',
    cleanupOutdatedCaches: true,
    // the first visit is served offline-ready at once, not from the next visit on
    clientsClaim: true,
    skipWaiting: true,
  },
});

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
    plugins: [memlabExercises({ exercisesDir, outDir: generatedDir }), memlabIcons(), offline],
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
