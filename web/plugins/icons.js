// The page's icon as PNG files for the web app manifest (an installable app needs
// raster icons of 192 and 512 px), drawn at build time from the same shapes as the
// SVG favicon in index.html: a blue rounded square with three white bars on a
// 16-unit grid. Emitted as icon-192.png and icon-512.png at the root of dist/.
import { deflateSync, crc32 } from 'node:zlib';

const BLUE = [0x1c, 0x7e, 0xd6, 255];
const WHITE = [255, 255, 255, 255];
// [x0, y0, x1, y1] on the 16-unit grid (index.html's path M4 12V4h2v8zm3 0V7h2v5zm3 0V9h2v3z)
const bars = [[4, 4, 6, 12], [7, 7, 9, 12], [10, 9, 12, 12]];
const RADIUS = 3;

function pixel(u, v) {
  const inBar = bars.some(([x0, y0, x1, y1]) => u >= x0 && u < x1 && v >= y0 && v < y1);
  if (inBar) return WHITE;
  // rounded corners: outside the quarter circles at the corners is transparent
  const cx = Math.min(Math.max(u, RADIUS), 16 - RADIUS);
  const cy = Math.min(Math.max(v, RADIUS), 16 - RADIUS);
  return (u - cx) ** 2 + (v - cy) ** 2 <= RADIUS ** 2 ? BLUE : [0, 0, 0, 0];
}

function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** An RGBA PNG of the icon, `size` px square. */
export function iconPng(size) {
  const rows = Buffer.alloc(size * (1 + 4 * size));
  for (let y = 0; y < size; y++) {
    const row = y * (1 + 4 * size); // filter byte 0, then RGBA
    for (let x = 0; x < size; x++)
      rows.set(pixel(((x + 0.5) * 16) / size, ((y + 0.5) * 16) / size), row + 1 + 4 * x);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 6, 0, 0, 0], 8); // 8 bits, RGBA, deflate, no filter, no interlace
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

export const iconSizes = [192, 512];

export function memlabIcons() {
  return {
    name: 'memlab-icons',
    generateBundle() {
      for (const size of iconSizes)
        this.emitFile({ type: 'asset', fileName: `icon-${size}.png`, source: iconPng(size) });
    },
  };
}
