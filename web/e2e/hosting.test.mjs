// Hosting, checked as far as it can be here (no GitHub, no network, no browser):
//   - .github/workflows/pages.yml parses and has the structure the Pages actions
//     need, and its one build step is exactly `./lab build`, the command `./lab
//     test` runs too;
//   - ./lab stops with advice, before installing anything, when node is too old
//     (Vite 8 needs >= 20.19) or missing and the system's nodejs package is 18,
//     and installs Debian's nodejs only when that one is new enough;
//   - the built site (web/dist) refers to its files by relative URLs, so it works
//     from any sub-path (the other browser tests serve it from one).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const lab = path.join(repo, 'lab');
const workflowFile = path.join(repo, '.github', 'workflows', 'pages.yml');

/** A node-version of setup-node that is >= 20.19 whatever patch it resolves to (and Vite's ^20.19 || >=22.12). */
function nodeVersionOk(spec) {
  const [major, minor = null] = String(spec).replace(/^v/, '').split('.').map(Number);
  if (major === 20) return minor !== null && minor >= 19;
  if (major === 22) return minor === null || minor >= 12;
  return major > 22;
}

describe('the GitHub Pages workflow', () => {
  let workflow;

  it('parses as YAML without errors or warnings', () => {
    const doc = parseDocument(readFileSync(workflowFile, 'utf8'), { prettyErrors: true, uniqueKeys: true });
    assert.deepEqual(doc.errors.map(String), []);
    assert.deepEqual(doc.warnings.map(String), []);
    workflow = doc.toJS();
  });

  it('runs on push to main, with the permissions deploy-pages needs', () => {
    assert.deepEqual(workflow.on.push.branches, ['main']);
    assert.equal(workflow.permissions.pages, 'write');
    assert.equal(workflow.permissions['id-token'], 'write');
    assert.deepEqual(Object.keys(workflow.jobs).sort(), ['build', 'deploy']);
  });

  it('builds on Ubuntu with node >= 20.19 and exactly `./lab build`, then uploads web/dist', () => {
    const { build } = workflow.jobs;
    assert.match(build['runs-on'], /^ubuntu-/);
    const uses = (step) => (step.uses ?? '').replace(/@.*/, '');
    const at = (name) => build.steps.findIndex((s) => uses(s) === name);
    for (const name of ['actions/checkout', 'actions/setup-node', 'actions/configure-pages', 'actions/upload-pages-artifact'])
      assert.ok(at(name) >= 0, `the build job should use ${name}`);
    const setupNode = build.steps[at('actions/setup-node')];
    assert.ok(nodeVersionOk(setupNode.with?.['node-version']), `node-version ${setupNode.with?.['node-version']}: Vite 8 needs >= 20.19`);
    const runs = build.steps.filter((s) => 'run' in s);
    assert.deepEqual(runs.map((s) => s.run.trim()), ['./lab build'], 'the one command of the build is ./lab build');
    const buildAt = build.steps.indexOf(runs[0]);
    assert.ok(at('actions/checkout') < at('actions/setup-node') && at('actions/setup-node') < buildAt, 'checkout, node, then build');
    assert.ok(buildAt < at('actions/upload-pages-artifact'), 'upload after the build');
    assert.equal(build.steps[at('actions/upload-pages-artifact')].with.path, 'web/dist');
    for (const step of build.steps.filter((s) => s.uses)) assert.match(step.uses, /^actions\/[\w-]+@v\d+$/, 'official actions, pinned to a major version');
  });

  it('deploys with actions/deploy-pages to the github-pages environment after the build', () => {
    const { deploy } = workflow.jobs;
    assert.equal(deploy.needs, 'build');
    assert.equal(deploy.environment.name, 'github-pages');
    const step = deploy.steps.find((s) => /^actions\/deploy-pages@v\d+$/.test(s.uses ?? ''));
    assert.ok(step, 'deploy-pages step');
    assert.equal(deploy.environment.url, `\${{ steps.${step.id}.outputs.page_url }}`);
  });

  it('`./lab test` runs the same build as the workflow', () => {
    const script = readFileSync(lab, 'utf8');
    const branch = (name) => new RegExp(`\\n  ${name}\\)\\n([\\s\\S]*?)\\n    ;;`).exec(script)?.[1] ?? '';
    assert.match(branch('build'), /^\s*build\s*$/m, './lab build calls build()');
    assert.match(branch('test'), /^\s*build\b/m, './lab test calls build() too');
  });
});

describe('./lab and the node version', () => {
  let root;
  before(() => { root = mkdtempSync(path.join(tmpdir(), 'memlab-lab-')); });
  after(() => rmSync(root, { recursive: true, force: true }));

  // A PATH with every command of the system but node/npm/npx, and stand-ins:
  // apt-get and cmake record their calls (cmake then fails: only what ./lab decides
  // is tested, nothing is built), apt-cache answers `candidate`, dpkg-query says
  // nodejs and npm are not installed, sudo just runs the command.
  function fakeSystem(name, { node, candidate }) {
    const bin = path.join(root, name, 'bin');
    mkdirSync(bin, { recursive: true });
    const fakes = {
      'apt-get': `echo "apt-get $*" >> ${root}/${name}/calls`,
      'apt-cache': `printf 'nodejs:\\n  Installed: (none)\\n  Candidate: %s\\n' '${candidate}'`,
      sudo: '"$@"',
      'dpkg-query': `case "$*" in *nodejs*|*npm*) exit 1;; esac; exec ${spawnSync('sh', ['-c', 'command -v dpkg-query'], { encoding: 'utf8' }).stdout.trim()} "$@"`,
      cmake: `echo "cmake $*" >> ${root}/${name}/calls; exit 1`,
      ...(node ? { node: `echo ${node}`, npm: 'echo 10.0.0' } : {}),
    };
    const linked = new Set(['node', 'npm', 'npx', 'nodejs', ...Object.keys(fakes)]);
    for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir)) {
        if (linked.has(f)) continue;
        linked.add(f);
        symlinkSync(path.join(dir, f), path.join(bin, f));
      }
    }
    for (const [f, body] of Object.entries(fakes)) {
      writeFileSync(path.join(bin, f), `#!/bin/sh\n${body}\n`);
      chmodSync(path.join(bin, f), 0o755);
    }
    const run = spawnSync('/bin/bash', [lab, 'build'], { env: { PATH: bin, HOME: root }, encoding: 'utf8' });
    const callsFile = path.join(root, name, 'calls');
    return { ...run, calls: existsSync(callsFile) ? readFileSync(callsFile, 'utf8') : '' };
  }

  it('node 18 on the PATH: stops before installing anything, and says how to get a newer one', () => {
    const run = fakeSystem('old', { node: 'v18.19.0', candidate: '18.19.0+dfsg-6~deb12u2' });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /node v18\.19\.0 .* is too old/);
    assert.match(run.stderr, /needs Node\.js 20\.19 or newer/);
    assert.match(run.stderr, /NodeSource/);
    assert.match(run.stderr, /nvm install 22/);
    assert.equal(run.calls, '', 'nothing installed, nothing built');
  });

  it('node 22.11 (below Vite\'s 22.12) is refused too; 20.19.0 and 24.1.0 are accepted', () => {
    assert.match(fakeSystem('v22-11', { node: 'v22.11.0', candidate: '18.19.0' }).stderr, /v22\.11\.0 .* is too old/);
    for (const node of ['v20.19.0', 'v24.1.0']) {
      const run = fakeSystem(node, { node, candidate: '18.19.0' });
      assert.doesNotMatch(run.stderr, /too old/, node);
      assert.match(run.calls, /^cmake --preset wasm/m, `${node}: the build goes on`);
    }
  });

  it('no node, and the system\'s nodejs package is 18: stops without installing it', () => {
    const run = fakeSystem('missing-18', { candidate: '18.19.0+dfsg-6~deb12u2' });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /node is not installed, and this system's nodejs package is 18\.19\.0\+dfsg-6~deb12u2/);
    assert.match(run.stderr, /does not install it/);
    assert.equal(run.calls, '', 'apt-get never called');
  });

  it('no node, and the system\'s nodejs package is new enough (Debian 13): installs it with npm', () => {
    const run = fakeSystem('missing-20', { candidate: '20.19.2+dfsg-1' });
    assert.match(run.calls, /^apt-get install .*\bnodejs\b.*\bnpm\b/m, run.stderr);
  });
});

describe('the built site', () => {
  it('web/dist/index.html loads everything by relative URLs (any sub-path of any static host)', (t) => {
    const index = path.join(repo, 'web', 'dist', 'index.html');
    if (!existsSync(index)) { t.skip('web/dist not built'); return; }
    const html = readFileSync(index, 'utf8');
    const urls = [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
    assert.ok(urls.some((u) => /^\.\/assets\/.*\.js$/.test(u)), `the entry script by a relative URL: ${urls.join(' ')}`);
    for (const url of urls) assert.ok(!url.startsWith('/'), `${url} is absolute: it would break under a sub-path`);
  });
});
