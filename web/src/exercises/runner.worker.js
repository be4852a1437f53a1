// Runs one exercise test program (a WASI command module) and reports what it prints.
//
// One worker per run: the page terminates it when the run takes too long (the
// watchdog), which is the only way to stop a wasm loop. The page posts
// {wasm, args}; the worker answers
//   {type: 'started'}                       the program's main is about to run
//   {type: 'stdout' | 'stderr', line}       each line as it is printed
//   {type: 'exit', code}                    main returned or exit() was called
//   {type: 'trap', message}                 a WebAssembly trap: abort(), out-of-bounds
//                                           memory access, stack overflow, ...
import { ConsoleStdout, File, OpenFile, WASI } from '@bjorn3/browser_wasi_shim';

self.onmessage = async ({ data: { wasm, args = [] } }) => {
  const post = (message) => self.postMessage(message);
  const wasi = new WASI(['test', ...args], [], [
    new OpenFile(new File([])), // stdin: empty
    ConsoleStdout.lineBuffered((line) => post({ type: 'stdout', line })),
    ConsoleStdout.lineBuffered((line) => post({ type: 'stderr', line })),
  ]);
  let instance;
  try {
    const module = await WebAssembly.compile(wasm);
    instance = await WebAssembly.instantiate(module, { wasi_snapshot_preview1: wasi.wasiImport });
  } catch (e) {
    post({ type: 'trap', message: `the test program could not be loaded: ${e.message}` });
    return;
  }
  post({ type: 'started' });
  try {
    post({ type: 'exit', code: wasi.start(instance) });
  } catch (e) {
    post({ type: 'trap', message: e instanceof Error ? e.message : String(e) });
  }
};
