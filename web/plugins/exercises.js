// Vite plugin: what the page's exercises need besides the exercise folders, and
// a check that no solution.cpp or mutant (mutants/*.cpp) reaches the built site.
//
// Before a build (and when the dev server starts) it writes web/.generated/exercises/:
//   doctest.h            Debian's /usr/include/doctest/doctest.h, the very header the
//                        native build uses (not vendored in git); MIT licensed
//   doctest-LICENSE.txt  its copyright and licence, shipped next to it
//   main.o, prelude.pch, prelude.o
//                        exercises/common/main.cpp compiled, prelude.hpp precompiled
//                        (and its inline code compiled) by @yowasp/clang under node,
//                        with the page's flags (src/exercises/toolchain.js)
//   toolchain.json       the key those two were built for
//
// main.o (doctest's implementation, ~15 s in clang-in-wasm) and the prelude (~8 s)
// never change while a learner edits, so they are built here once and shipped:
// the browser then compiles only test.cpp. They are rebuilt only when their inputs
// change (sources, flags, doctest, clang version), so rebuilding the page is quick.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileTree, mainCommand, parseFlags, pchCommand, pchObjectCommand } from '../src/exercises/toolchain.js';

const doctestHeader = '/usr/include/doctest/doctest.h';
const doctestCopyright = '/usr/share/doc/doctest-dev/copyright';
export const commonFiles = ['memlab_lab.hpp', 'memlab_test.hpp', 'prelude.hpp', 'main.cpp'];

function fail(message) {
  const error = new Error(message);
  error.stack = `Error: ${message}`; // the reason, without a stack trace through Vite
  throw error;
}

function writeIfChanged(file, data) {
  if (existsSync(file) && Buffer.compare(readFileSync(file), Buffer.from(data)) === 0) return;
  writeFileSync(file, data);
}

// doctest's licence from Debian's machine-readable copyright file: the copyright
// line and the Expat (MIT) text.
function doctestLicense(header) {
  const copyright = /Copyright \(c\) [^\n]*/.exec(header)?.[0] ?? 'Copyright (c) 2016-2021 Viktor Kirilov';
  let expat = '';
  if (existsSync(doctestCopyright)) {
    const text = readFileSync(doctestCopyright, 'utf8');
    const match = /\nLicense: Expat\n((?: [^\n]*\n)+)/.exec(text);
    if (match) expat = match[1].split('\n').map((l) => (l.trim() === '.' ? '' : l.replace(/^ /, ''))).join('\n');
  }
  if (!expat) fail(`memlab: doctest's licence text not found in ${doctestCopyright}: apt-get install doctest-dev`);
  return `doctest (https://github.com/doctest/doctest), the header include/doctest/doctest.h\n` +
    `used by memlab's exercises, as installed by Debian's doctest-dev package.\n\n${copyright}\n\n${expat.trim()}\n`;
}

// What the graders keep and the site must never ship: every exercise's
// solution.cpp and its mutants (mutants/*.cpp, the wrong answers its tests must
// catch), each known by its first line.
function privateFiles(exercisesDir) {
  const files = [];
  for (const slug of readdirSync(exercisesDir).filter((d) => /^\d\d-/.test(d)).sort()) {
    const dir = path.join(exercisesDir, slug);
    if (existsSync(path.join(dir, 'solution.cpp'))) files.push(path.join(dir, 'solution.cpp'));
    const mutants = path.join(dir, 'mutants');
    if (existsSync(mutants))
      for (const f of readdirSync(mutants).filter((f) => f.endsWith('.cpp')).sort()) files.push(path.join(mutants, f));
  }
  return files.map((file) => ({ file, line: readFileSync(file, 'utf8').split('\n')[0] }));
}

const textAsset = /\.(js|mjs|html|css|txt|h|hpp|cpp|json|map|md)$/;

/**
 * options.exercisesDir: the repository's exercises/ folder.
 * options.outDir: where to write (web/.generated/exercises).
 */
export function memlabExercises({ exercisesDir, outDir }) {
  const commonDir = path.join(exercisesDir, 'common');
  let ready = null;

  async function prepare(log) {
    if (!existsSync(doctestHeader))
      fail(`memlab: ${doctestHeader} missing: apt-get install doctest-dev (the exercises ship Debian's doctest)`);
    mkdirSync(outDir, { recursive: true });
    const doctest = readFileSync(doctestHeader, 'utf8');
    writeIfChanged(path.join(outDir, 'doctest.h'), doctest);
    writeIfChanged(path.join(outDir, 'doctest-LICENSE.txt'), doctestLicense(doctest));

    const common = Object.fromEntries(commonFiles.map((f) => [f, readFileSync(path.join(commonDir, f), 'utf8')]));
    const flagsText = readFileSync(path.join(commonDir, 'flags.txt'), 'utf8');
    const flags = parseFlags(flagsText);
    // (the package's exports hide package.json: find it next to the entry point)
    const clangEntry = createRequire(import.meta.url).resolve('@yowasp/clang');
    const clangVersion = JSON.parse(readFileSync(path.join(path.dirname(clangEntry), '..', 'package.json'), 'utf8')).version;
    const hash = createHash('sha256');
    for (const part of [clangVersion, JSON.stringify([pchCommand(flags), pchObjectCommand(flags), mainCommand(flags)]),
      doctest, ...commonFiles.map((f) => common[f])]) hash.update(part).update('\0');
    const key = hash.digest('hex');

    const manifest = path.join(outDir, 'toolchain.json');
    const built = ['main.o', 'prelude.pch', 'prelude.o'].every((f) => existsSync(path.join(outDir, f)));
    if (built && existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).key === key) return;

    log(`memlab: building the exercises' main.o, prelude.pch and prelude.o with @yowasp/clang ${clangVersion} (once, ~30 s)`);
    const { runClang } = await import('@yowasp/clang');
    const tree = fileTree({ common, doctest });
    const run = async (args, output) => {
      const t0 = performance.now();
      let stderr = '';
      const sink = (bytes) => { if (bytes) stderr += new TextDecoder().decode(bytes); };
      try {
        const files = await runClang(args, tree, { stdout: sink, stderr: sink, fetchProgress: () => {} });
        tree[output] = files[output];
        writeFileSync(path.join(outDir, output), files[output]);
      } catch (e) {
        fail(`memlab: ${args.join(' ')} failed:\n${stderr || e.message}`);
      }
      log(`memlab: ${output} built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    };
    await run(pchCommand(flags), 'prelude.pch');
    await run(pchObjectCommand(flags), 'prelude.o');
    await run(mainCommand(flags), 'main.o');
    writeFileSync(manifest, `${JSON.stringify({ key, clang: clangVersion }, null, 2)}\n`);
  }

  return {
    name: 'memlab-exercises',
    // Runs before any module is transformed, in `vite build` and `vite` (dev) alike.
    buildStart() {
      ready ??= prepare((m) => this.info?.(m) ?? console.log(m));
      return ready;
    },
    // The catalog imports README.md, exercise.cpp and test.cpp only; this makes
    // sure no solution or mutant reached the site some other way.
    generateBundle(_options, bundle) {
      const secrets = privateFiles(exercisesDir).filter((s) => s.line.trim().length > 0);
      for (const [name, out] of Object.entries(bundle)) {
        if (out.type === 'asset' && !textAsset.test(name)) continue;
        const text = out.type === 'chunk' ? out.code
          : typeof out.source === 'string' ? out.source : Buffer.from(out.source).toString('utf8');
        // as written, or escaped inside a JS string (how a ?raw import ships it)
        const found = secrets.find((s) => text.includes(s.line) || text.includes(JSON.stringify(s.line).slice(1, -1)));
        if (found) this.error(`memlab: ${name} would ship ${path.relative(exercisesDir, found.file)}: the site must hold no solution or mutant`);
      }
    },
  };
}
