// The exercise compiler: clang in WebAssembly (@yowasp/clang), in a worker of its
// own so that the page never waits on it.
//
// Protocol: the page posts {id, files: {'exercise.cpp', 'test.cpp'}}; the worker
// answers with any number of {id, type: 'progress', phase, done, total} and one of
//   {id, type: 'compiled', wasm, diagnostics, log, times, cached}
//   {id, type: 'failed', stage: 'compile' | 'link', diagnostics, log, times}
//   {id, type: 'error', message}              (the toolchain itself failed)
//
// The toolchain (~105 MB: clang's wasm and a tar of headers and libraries) loads
// on the first request, from the site itself, with progress. Every file it fetches
// goes through the Cache Storage API, so a later visit loads it from the disk. The
// half of the test program that never changes — doctest's implementation (main.o)
// and the precompiled prelude (prelude.pch, prelude.o) — was built with the page
// (plugins/exercises.js): a request compiles test.cpp alone and links. An
// unchanged request is answered from memory, without compiling.
import { fileTree, linkCommand, parseFlags, testCommand } from './toolchain.js';
import flagsText from '@exercises/common/flags.txt?raw';
import labHeader from '@exercises/common/memlab_lab.hpp?raw';
import testHeader from '@exercises/common/memlab_test.hpp?raw';
import preludeHeader from '@exercises/common/prelude.hpp?raw';
import doctestUrl from '@exercises-generated/doctest.h?url';
import mainObjectUrl from '@exercises-generated/main.o?url';
import preludePchUrl from '@exercises-generated/prelude.pch?url';
import preludeObjectUrl from '@exercises-generated/prelude.o?url';

const CACHE_NAME = 'memlab-exercise-toolchain';
const flags = parseFlags(flagsText);
const common = { 'memlab_lab.hpp': labHeader, 'memlab_test.hpp': testHeader, 'prelude.hpp': preludeHeader };

// ---- fetch through Cache Storage ---------------------------------------------------
// @yowasp/clang captures globalThis.fetch when its module loads, so this is set
// before it is imported. Site files are versioned by their hashed names, so a hit
// is always current; entries this page no longer asks for are deleted after a load.
const networkFetch = self.fetch.bind(self);
const fetchedUrls = new Set();

async function cachedFetch(input, init) {
  const url = String(input instanceof Request ? input.url : input);
  fetchedUrls.add(url);
  if (typeof caches === 'undefined' || (init?.method && init.method !== 'GET')) return networkFetch(input, init);
  let cache;
  try {
    cache = await caches.open(CACHE_NAME);
    const hit = await cache.match(url);
    if (hit) return hit;
  } catch {
    return networkFetch(input, init); // no Cache Storage here (e.g. not a secure context)
  }
  const response = await networkFetch(input, init);
  // best effort (quota); awaited before the toolchain counts as loaded, so that
  // a page closed or reloaded right after its first compile finds it offline
  if (response.ok) storing.push(cache.put(url, response.clone()).catch(() => {}));
  return response;
}
const storing = []; // the cache.put promises of this load
self.fetch = cachedFetch;

async function pruneCache() {
  if (typeof caches === 'undefined') return;
  const cache = await caches.open(CACHE_NAME);
  for (const request of await cache.keys()) if (!fetchedUrls.has(request.url)) await cache.delete(request);
}

// ---- the toolchain -----------------------------------------------------------------

let toolchain = null; // Promise<{ runClang, doctest, mainObject, preludePch, preludeObject }>

// Fetches url to bytes, reporting each chunk's length.
async function fetchBytes(url, onBytes) {
  const response = await cachedFetch(new URL(url, self.location.href));
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const chunks = [];
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    onBytes(value.length);
  }
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) { bytes.set(c, at); at += c.length; }
  return bytes;
}

function loadToolchain(progress) {
  // clang reports its own total; ours are added as they arrive (~15 MB)
  let clangDone = 0, clangTotal = 105e6, oursDone = 0;
  const oursTotal = 15e6;
  const report = () => progress('download', clangDone + oursDone, clangTotal + oursTotal);
  const ours = (n) => { oursDone += n; report(); };
  return Promise.all([
    import('@yowasp/clang').then(async ({ runClang }) => {
      await runClang(null, {}, {
        fetchProgress: ({ doneLength, totalLength }) => { clangDone = doneLength; clangTotal = totalLength; report(); },
      });
      return runClang;
    }),
    fetchBytes(doctestUrl, ours).then((b) => new TextDecoder().decode(b)),
    fetchBytes(mainObjectUrl, ours),
    fetchBytes(preludePchUrl, ours),
    fetchBytes(preludeObjectUrl, ours),
  ]).then(async ([runClang, doctest, mainObject, preludePch, preludeObject]) => {
    await Promise.all(storing);
    pruneCache().catch(() => {});
    return { runClang, doctest, mainObject, preludePch, preludeObject };
  });
}

// ---- diagnostics --------------------------------------------------------------------

// "exercise.cpp:12:5: error: use of undeclared identifier 'x'" -> an object.
const diagnosticLine = /^(?:\.\/)?([^\s:][^:]*):(\d+):(\d+): (fatal error|error|warning|note): (.*)$/;

export function parseDiagnostics(log) {
  const out = [];
  for (const line of log.split('\n')) {
    const m = diagnosticLine.exec(line);
    if (m) out.push({ file: m[1], line: Number(m[2]), column: Number(m[3]),
      severity: m[4] === 'fatal error' ? 'error' : m[4], message: m[5] });
  }
  return out;
}

// ---- requests ------------------------------------------------------------------------

// exercise.cpp + test.cpp -> the promise of their result, for the last few: an
// unchanged request, or one arriving while the same code is being compiled (the
// page compiles ahead while the learner pauses typing), waits for that result.
const compiled = new Map();
const remembered = 8;

async function clang(runClang, args, files) {
  let log = '';
  const sink = (bytes) => { if (bytes) log += new TextDecoder().decode(bytes); };
  try {
    const out = await runClang(args, files, { stdout: sink, stderr: sink });
    return { ok: true, files: out, log };
  } catch (e) {
    if (typeof e?.code === 'number') return { ok: false, log }; // clang exited non-zero
    throw e;
  }
}

async function build(files, progress) {
  const times = {};
  let t0 = performance.now();
  toolchain ??= loadToolchain(progress);
  const tools = await toolchain;
  times.load = performance.now() - t0;

  progress('compile', 0, 1);
  t0 = performance.now();
  const tree = fileTree({ common, doctest: tools.doctest, extra: {
    'exercise.cpp': files['exercise.cpp'], 'test.cpp': files['test.cpp'],
    'prelude.pch': tools.preludePch, 'main.o': tools.mainObject,
  } });
  const compile = await clang(tools.runClang, testCommand(flags), tree);
  times.compile = performance.now() - t0;
  if (!compile.ok)
    return { type: 'failed', stage: 'compile', diagnostics: parseDiagnostics(compile.log), log: compile.log, times };

  progress('link', 0, 1);
  t0 = performance.now();
  const link = await clang(tools.runClang, linkCommand(),
    { 'test.o': compile.files['test.o'], 'prelude.o': tools.preludeObject, 'main.o': tools.mainObject });
  times.link = performance.now() - t0;
  if (!link.ok) return { type: 'failed', stage: 'link', diagnostics: parseDiagnostics(link.log), log: link.log, times };
  return { type: 'compiled', wasm: link.files['test.wasm'], diagnostics: parseDiagnostics(compile.log), log: compile.log, times };
}

async function handle({ id, files }) {
  const progress = (phase, done, total) => self.postMessage({ id, type: 'progress', phase, done, total });
  const key = `${files['test.cpp']}\0${files['exercise.cpp']}`;
  let result = compiled.get(key);
  const cached = result !== undefined;
  if (!cached) {
    result = build(files, progress);
    compiled.set(key, result);
    result.catch(() => compiled.delete(key));
    if (compiled.size > remembered) compiled.delete(compiled.keys().next().value);
  }
  const r = await result;
  // a copy of the program: the page transfers it to the runner
  self.postMessage({ id, ...r, wasm: r.wasm?.slice(), times: cached ? {} : r.times, cached });
}

self.onmessage = ({ data }) => {
  handle(data).catch((e) => {
    toolchain = null; // try again on the next request
    self.postMessage({ id: data.id, type: 'error', message: e?.message || String(e) });
  });
};
