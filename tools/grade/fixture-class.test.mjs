// The grader end to end: the fixture class (fixture-class.mjs) is written to a
// temporary folder as three students' unpacked zips, graded by grade-class (two
// jobs, a 2 s timeout so the infinite loop costs little), and the gradebook must
// hold each file's expected verdict — the very verdicts web/e2e/grader.test.mjs
// expects from the page for the same files.
//
//   MEMLAB_GRADE_BUILD=build/native node --test tools/grade/fixture-class.test.mjs
// (a native build with memlab_exercise_main built; ctest sets it)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixtureClass, slugs } from './fixture-class.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const gradeClass = path.join(here, 'grade-class');
const build = process.env.MEMLAB_GRADE_BUILD;

/** RFC 4180 enough for the gradebook: quoted fields may hold commas and "". */
function parseCsv(text) {
  return text.trimEnd().split('\n').map((line) => {
    const fields = [];
    for (let i = 0; i <= line.length;) {
      if (line[i] === '"') {
        let field = '';
        for (i++; i < line.length; i++) {
          if (line[i] === '"' && line[i + 1] === '"') { field += '"'; i++; } else if (line[i] === '"') { i++; break; } else field += line[i];
        }
        fields.push(field);
        i++; // the comma
      } else {
        const end = line.indexOf(',', i) === -1 ? line.length : line.indexOf(',', i);
        fields.push(line.slice(i, end));
        i = end + 1;
      }
    }
    return fields;
  });
}

describe('grade-class on the fixture class of 3 students', { timeout: 600_000 }, () => {
  let root, classDir, run;

  before(() => {
    assert.ok(build, 'MEMLAB_GRADE_BUILD (a native build folder) is not set');
    root = mkdtempSync(path.join(tmpdir(), 'memlab-class-'));
    classDir = path.join(root, 'class');
    for (const student of fixtureClass) {
      for (const e of student.exercises) {
        if (!e.code) continue;
        mkdirSync(path.join(classDir, student.name, e.slug), { recursive: true });
        writeFileSync(path.join(classDir, student.name, e.slug, 'exercise.cpp'), e.code());
      }
    }
    const t0 = Date.now();
    run = spawnSync(gradeClass, [classDir, '--build', build, '--jobs', '2', '--timeout', '2'], { encoding: 'utf8' });
    run.seconds = (Date.now() - t0) / 1000;
    console.log(`grade-class took ${run.seconds.toFixed(1)} s; it printed:\n${run.stdout}`);
  });

  after(() => { if (root) rmSync(root, { recursive: true, force: true }); });

  it('exits 0 and writes the gradebook', () => {
    assert.equal(run.status, 0, `grade-class failed:\n${run.stderr}`);
  });

  it('the CSV holds every student × exercise with the expected verdict, and the passed count', () => {
    const rows = parseCsv(readFileSync(path.join(classDir, 'gradebook.csv'), 'utf8'));
    assert.deepEqual(rows[0], ['student', ...slugs, 'passed']);
    assert.deepEqual(rows.slice(1).map((r) => r[0]), fixtureClass.map((s) => s.name));
    for (const student of fixtureClass) {
      const row = rows.find((r) => r[0] === student.name);
      for (const [i, e] of student.exercises.entries())
        assert.equal(row[1 + i], e.expect, `${student.name} ${e.slug} (${e.why})`);
      const passed = student.exercises.filter((e) => e.expect === 'passed').length;
      assert.equal(row.at(-1), String(passed), `${student.name}'s passed count`);
    }
    // the fixture covers every kind of verdict
    const cells = new Set(rows.slice(1).flatMap((r) => r.slice(1, -1)).map((c) => c.replace(/^\d+ of \d+/, 'N of M')));
    assert.deepEqual([...cells].sort(), ['N of M cases failed', 'crashed', 'does not compile', 'missing', 'passed', 'timeout']);
  });

  it('prints the Markdown table it writes', () => {
    const md = readFileSync(path.join(classDir, 'gradebook.md'), 'utf8');
    assert.ok(run.stdout.includes(md.trimEnd()), 'the printed table should be gradebook.md');
    const lines = md.trimEnd().split('\n');
    assert.equal(lines[0], `| student | ${slugs.join(' | ')} | passed |`);
    assert.equal(lines.length, 2 + fixtureClass.length);
    assert.equal(lines[2], `| alice | ${Array(slugs.length).fill('passed').join(' | ')} | ${slugs.length} / ${slugs.length} |`);
  });

  it('keeps what each run printed: the compiler error, the test case that was running', () => {
    const log = (student, slug) => readFileSync(path.join(classDir, 'gradebook-logs', student, `${slug}.txt`), 'utf8');
    assert.match(log('carol', '01-online-softmax'), /error: expected .;./);
    // (CMake wraps its message at 80 columns)
    assert.match(log('carol', '03-causal-attention'), /timeout,\s+in\s+test\s+case\s+"causal_flash_attention\s+matches/);
    assert.match(log('carol', '07-q8-0'), /aborted,\s+in\s+test\s+case\s+"an\s+all-zero\s+block/);
    assert.match(log('bob', '04-gqa'), /kv_cache_bytes/);
    assert.match(log('carol', '02-flash-attention'), /no submission/);
  });

  it('names a bad argument', () => {
    const bad = spawnSync(gradeClass, [path.join(root, 'nowhere'), '--build', build], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /CLASS_DIR = '.*nowhere': not a folder/);
    const jobs = spawnSync(gradeClass, [classDir, '--build', build, '--jobs', 'two'], { encoding: 'utf8' });
    assert.match(jobs.stderr, /--jobs = 'two': expected a positive integer/);
  });
});
