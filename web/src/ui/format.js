// Number formatting shared by charts and tables.

const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 3 significant digits, trailing zeros dropped: 1536 -> "1.5 KiB", 2^24 -> "16 MiB". */
export function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return '—';
  let v = Math.abs(bytes);
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return `${Math.sign(bytes) < 0 ? '-' : ''}${Number(v.toPrecision(3))} ${units[u]}`;
}

/** Milliseconds without unit: 1234 -> "1234", 12.34 -> "12.3", 0.3 -> "0.30", 0.0042 -> "0.0042". */
export function formatMs(ms) {
  if (!Number.isFinite(ms)) return '—';
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 0.01 || ms === 0) return ms.toFixed(2);
  return String(Number(ms.toPrecision(2)));
}

/** Milliseconds with unit, for axes and tooltips: 1024 -> "1024 ms", 0.125 -> "0.125 ms". */
export function formatMsUnit(ms) {
  if (!Number.isFinite(ms)) return '—';
  return `${ms >= 100 ? Math.round(ms) : Number(ms.toPrecision(3))} ms`;
}

/** Scientific with 2 digits: 3.14e-7 -> "3.1e-7", 0 -> "0". */
export function formatSci(x) {
  if (Number.isNaN(x)) return '—';
  if (x === 0) return '0';
  return x.toExponential(1);
}

/** 3 significant digits: 12.345 -> "12.3". */
export function formatNumber(x) {
  if (!Number.isFinite(x)) return '—';
  return String(Number(x.toPrecision(3)));
}
