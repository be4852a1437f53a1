// Page-side handle on compiling and testing an exercise in the browser.
//
//   const lab = createExerciseLab();
//   const outcome = await lab.compileAndTest({ 'exercise.cpp': code, 'test.cpp': tests },
//                                            (p) => showProgress(p));
//
// Two kinds of worker: one compiler (compiler.worker.js, kept: the toolchain is
// expensive to load) and one runner per run (runner.worker.js). The watchdog
// terminates a runner that is still running after `timeoutMs` (a learner's
// infinite loop), so the page never hangs and the next run starts afresh.
//
// outcome.kind is one of
//   'compile-error' {stage, diagnostics, log}       clang said no
//   'tested'        {report, diagnostics, log}      the program ran to its end
//   'timeout'       {report, running, seconds}      stopped by the watchdog
//   'trap'          {report, running, message}      a wasm trap (abort, out of bounds)
// with report = parseReport(lines) and `times` (ms) of load, compile, link, run.

/**
 * The memlab reporter's JSON lines (exercises/common/main.cpp) -> test cases:
 *   { cases: [{ name, line, passed, asserts, failed, ms, failures: [...] }],
 *     summary: { cases, failedCases, asserts, failedAsserts } | null,
 *     running: name of a case that started and never ended, or null,
 *     output: lines the program printed itself }
 */
export function parseReport(lines) {
  const cases = [];
  const output = [];
  let current = null;
  let summary = null;
  for (const line of lines) {
    let event = null;
    if (line.startsWith('{"event":')) {
      try { event = JSON.parse(line); } catch { event = null; }
    }
    if (!event) { output.push(line); continue; }
    if (event.event === 'start') {
      current = { name: event.name, line: event.line, passed: null, asserts: 0, failed: 0, ms: 0, failures: [] };
      cases.push(current);
    } else if (event.event === 'assert' || event.event === 'message') {
      current?.failures.push(event);
    } else if (event.event === 'end' && current) {
      Object.assign(current, { passed: event.passed, asserts: event.asserts, failed: event.failed, ms: event.ms });
      current = null;
    } else if (event.event === 'summary') {
      summary = event;
    }
  }
  return { cases, summary, running: current?.name ?? null, output };
}

export function createExerciseLab({ timeoutMs = 10_000, compileTimeoutMs = 120_000 } = {}) {
  let compiler = null;
  let nextId = 1;

  function compilerWorker() {
    compiler ??= new Worker(new URL('./compiler.worker.js', import.meta.url), { type: 'module' });
    return compiler;
  }

  function compile(files, onProgress) {
    const worker = compilerWorker();
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        worker.terminate();
        compiler = null;
        reject(new Error(`the compiler did not finish within ${compileTimeoutMs / 1000} s and was stopped`));
      }, compileTimeoutMs);
      const onMessage = ({ data }) => {
        if (data.id !== id) return;
        if (data.type === 'progress') { onProgress?.(data); return; }
        cleanup();
        if (data.type === 'error') reject(new Error(`the in-browser compiler failed: ${data.message}`));
        else resolve(data);
      };
      const onError = (event) => {
        event.preventDefault?.();
        cleanup();
        compiler = null;
        reject(new Error(`the compiler worker failed: ${event.message || 'could not load'}`));
      };
      function cleanup() {
        clearTimeout(timer);
        worker.removeEventListener('message', onMessage);
        worker.removeEventListener('error', onError);
      }
      worker.addEventListener('message', onMessage);
      worker.addEventListener('error', onError);
      worker.postMessage({ id, files });
    });
  }

  let stopRun = null; // stops the run in progress (a benchmark the learner no longer waits for)

  /** Runs test.wasm in a fresh worker under the watchdog; resolves with the outcome. */
  function run(wasm, args, onLine, limitMs = timeoutMs) {
    const worker = new Worker(new URL('./runner.worker.js', import.meta.url), { type: 'module' });
    const lines = [];
    const stderr = [];
    return new Promise((resolve) => {
      let timer = null;
      let t0 = performance.now();
      const finish = (outcome) => {
        clearTimeout(timer);
        worker.terminate();
        stopRun = null;
        const report = parseReport(lines);
        resolve({ ...outcome, report, stderr, runMs: performance.now() - t0 });
      };
      worker.onmessage = ({ data }) => {
        if (data.type === 'started') {
          t0 = performance.now();
          timer = setTimeout(() => finish({ kind: 'timeout', seconds: limitMs / 1000 }), limitMs);
        } else if (data.type === 'stdout') {
          lines.push(data.line);
          onLine?.(data.line);
        } else if (data.type === 'stderr') {
          stderr.push(data.line);
        } else if (data.type === 'exit') {
          finish({ kind: 'tested', exitCode: data.code });
        } else if (data.type === 'trap') {
          finish({ kind: 'trap', message: data.message });
        }
      };
      worker.onerror = (event) => {
        event.preventDefault();
        finish({ kind: 'trap', message: `the test runner failed: ${event.message || 'could not load'}` });
      };
      stopRun = () => finish({ kind: 'cancelled' });
      worker.postMessage({ wasm, args }, [wasm.buffer]);
    });
  }

  let toolchainWanted = false; // set by the first Compile & Test: the toolchain is loaded on first use

  async function compileAndTest(files, onProgress) {
    stopRun?.();
    toolchainWanted = true;
    const compiled = await compile(files, onProgress);
    const times = { ...compiled.times };
    if (compiled.type === 'failed')
      return { kind: 'compile-error', stage: compiled.stage, diagnostics: compiled.diagnostics, log: compiled.log,
        cached: compiled.cached, times };
    onProgress?.({ phase: 'run', done: 0, total: 1 });
    const outcome = await run(compiled.wasm, ['--reporters=memlab'], (line) => {
      if (line.startsWith('{"event":"start"')) {
        try { onProgress?.({ phase: 'run', done: 0, total: 1, label: JSON.parse(line).name }); } catch { /* partial */ }
      }
    });
    times.run = outcome.runMs;
    return { ...outcome, running: outcome.report.running, diagnostics: compiled.diagnostics, log: compiled.log,
      cached: compiled.cached, times };
  }

  /**
   * Runs the test program's MEMLAB_BENCHMARK (memlab_test.hpp) under a longer
   * watchdog: { kind, points: [{ name, axis, n, ms, peakBytes }] }. The program
   * is the one just tested, so it is not compiled again.
   */
  async function benchmark(files, onPoint, limitMs = 60_000) {
    const compiled = await compile(files);
    if (compiled.type !== 'compiled') return { kind: 'compile-error', points: [] };
    const points = [];
    const outcome = await run(compiled.wasm, ['--memlab-bench'], (line) => {
      if (!line.startsWith('{"event":"bench')) return;
      try {
        const event = JSON.parse(line);
        if (event.event === 'bench') points.push(event);
        onPoint?.(event, points);
      } catch { /* not ours */ }
    }, limitMs);
    return { kind: outcome.kind, message: outcome.message, seconds: outcome.seconds, points };
  }

  /**
   * Compiles ahead (no run), once the toolchain is in use: the page calls it when
   * the learner pauses typing, so that Compile & Test finds the program built.
   * Resolves with the compiler's answer ({type, diagnostics}), or null when the
   * toolchain was never asked for or another compile ahead is still running.
   */
  let ahead = null; // the compile ahead in flight: at most one, later pauses skip
  async function precompile(files) {
    if (!toolchainWanted || ahead) return null;
    ahead = compile(files);
    try { return await ahead; } finally { ahead = null; }
  }

  return {
    compileAndTest,
    precompile,
    benchmark,
    /** Stops a test program still running (e.g. a benchmark when a new run starts). */
    stop() { stopRun?.(); },
    /** Stops the compiler worker (the toolchain is reloaded, from the cache, on next use). */
    terminate() { compiler?.terminate(); compiler = null; },
  };
}
