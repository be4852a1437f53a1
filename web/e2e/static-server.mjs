// A minimal static file server for the e2e test: plain files, a Content-Type and
// nothing else (no COOP/COEP, no caching headers), mounted under a sub-path to
// prove that dist/ works from anywhere. Listens on 127.0.0.1, on a free port.
import http from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';

const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export async function serveStatic(root, mount = '/') {
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    let rel = decodeURIComponent(url.pathname);
    if (!rel.startsWith(mount)) { res.writeHead(404).end('not found'); return; }
    rel = rel.slice(mount.length);
    const file = path.join(root, path.normalize(`/${rel}`));
    try {
      const target = (await stat(file)).isDirectory() ? path.join(file, 'index.html') : file;
      const body = await readFile(target);
      res.writeHead(200, { 'Content-Type': types[path.extname(target)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}${mount}`, close: () => new Promise((r) => server.close(r)) };
}
