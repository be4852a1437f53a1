// Benchmark (prints figures, asserts nothing): the seed lab's KV-cache table,
// tokens/s with and without the cache, measured in Chromium through the built page.
//
//   npm run build && npm run bench:kv-cache -- [tokens]   (default "10, 25, 50, 100, 200, 500")
//
// The tiny GPT: 4 layers, d_model 128, 4 heads (MHA), max_seq 512.
import { benchSection, printTable } from './page.mjs';

const tokens = process.argv[2] ?? '10, 25, 50, 100, 200, 500';
const { rows, caption, browserName } = await benchSection('kv-cache',
  { tokens, layers: 4, dModel: 128, heads: 4, kvHeads: 4, noCache: true },
  '[data-test=kv-table]');
console.log(`KV cache in ${browserName}: 4 layers, d_model 128, 4 heads`);
printTable(['tokens', 'no cache tok/s', 'cache tok/s', 'speedup', 'ceiling', 'KV allocated'], rows);
console.log(caption);
