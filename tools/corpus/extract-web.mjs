// extract-web.mjs — data/web-gospels.txt from Debian's sword-text-web package: the
// World English Bible (public domain), the books named below as plain ASCII prose,
// one paragraph per line. Reads the SWORD zText module (OSIS markup):
//   *.bzs  12 bytes per block: offset, compressed size, size (u32 little-endian)
//   *.bzz  the zlib-compressed blocks, one book per block (BlockType=BOOK)
// Footnotes, titles and verse markup are dropped; curly quotes and dashes become ASCII.
//
//   apt-get download sword-text-web && dpkg-deb -x sword-text-web_*.deb web
//   node tools/corpus/extract-web.mjs web/usr/share/sword/modules/texts/ztext/engWEB2015eb \
//     > data/web-gospels.txt
import { readFileSync } from 'node:fs';
import { inflateSync } from 'node:zlib';

const books = ['Matt', 'Mark', 'Luke', 'John', 'Acts'];
const dir = process.argv[2];
if (!dir) throw new Error('usage: node extract-web.mjs MODULE_DIR (the engWEB2015eb folder)');

const index = readFileSync(`${dir}/nt.bzs`), blocks = readFileSync(`${dir}/nt.bzz`);
let osis = '';
for (let at = 0; at + 12 <= index.length; at += 12) {
  const offset = index.readUInt32LE(at), size = index.readUInt32LE(at + 4);
  osis += inflateSync(blocks.subarray(offset, offset + size)).toString('utf8');
}

const ascii = { '\u2018': "'", '\u2019': "'", '\u201c': '"', '\u201d': '"', '\u2014': ' -- ', '\u2013': '-' };
const paragraphs = [];
for (const book of books) {
  // A book runs from its opening div to the next book's (or the end).
  const start = osis.indexOf(`<div canonical="true" osisID="${book}"`);
  if (start < 0) throw new Error(`book ${book} not found in ${dir}`);
  const next = osis.indexOf('<div canonical="true" osisID=', start + 1);
  const text = osis.slice(osis.indexOf('>', start) + 1, next < 0 ? undefined : next);
  for (const p of text.split(/<div [^>]*type="x-p"\/>/)) {
    const plain = p
      .replace(/<note[^>]*>[\s\S]*?<\/note>/g, ' ')
      .replace(/<title[^>]*>[\s\S]*?<\/title>/g, ' ')
      .replace(/<[^>]*>/g, '')
      .replace(/[\u2018\u2019\u201c\u201d\u2014\u2013]/g, (c) => ascii[c])
      .replace(/[^\x20-\x7e]/g, '')
      .replace(/\s+/g, ' ')
      .trim();
    if (plain.length > 1) paragraphs.push(plain);
  }
}
process.stdout.write(`${paragraphs.join('\n')}\n`);
