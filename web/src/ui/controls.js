// Parameter controls. An experiment lists its controls with the constructors below;
// renderControls() builds the inputs and returns read(), which turns them into a
// plain values object, e.g. { seq: [128, 256, 512], headDim: 64, causal: false }.
//
// Only what the page itself must know is checked here (whole numbers, a sane sweep).
// Everything else (seq 0, block 0, kv_heads that don't divide heads) goes to the
// core as typed, so the learner sees the core's own error message.

/** A whole-number input. */
export function int(key, label, value, hint = '') {
  return { kind: 'int', key, label, value, hint };
}

/** A checkbox. */
export function checkbox(key, label, value, hint = '') {
  return { kind: 'checkbox', key, label, value, hint };
}

/**
 * A sweep over powers of two: from, from*2, ... up to `to`. Two inputs named
 * `${key}Min` and `${key}Max`; the value is the list of points.
 */
export function pow2Range(key, label, { from, to, max }) {
  return { kind: 'pow2Range', key, label, from, to, max };
}

/**
 * A free-text input (e.g. a prompt). `options`, when given, are offered as the
 * input's suggestions (a datalist: the browser's dropdown), any other text still typed.
 */
export function text(key, label, value, hint = '', options = []) {
  return { kind: 'text', key, label, value, hint, options };
}

let datalists = 0; // unique ids for the suggestion lists

/** A comma-separated list of whole numbers, e.g. "10, 25, 50". */
export function intList(key, label, values, hint = '') {
  return { kind: 'intList', key, label, value: values.join(', '), hint };
}

function parseWhole(input, what) {
  const raw = input.value.trim();
  const n = Number(raw);
  if (raw === '' || !Number.isInteger(n)) throw new Error(`${what}: "${raw}" is not a whole number`);
  return n;
}

function field(label, hint, ...inputs) {
  const wrap = document.createElement('label');
  wrap.className = 'field';
  const name = document.createElement('span');
  name.className = 'field-name';
  name.textContent = label;
  const row = document.createElement('span');
  row.className = 'field-inputs';
  row.append(...inputs);
  wrap.append(name, row);
  if (hint) {
    const h = document.createElement('span');
    h.className = 'field-hint';
    h.textContent = hint;
    wrap.append(h);
  }
  return wrap;
}

function numberInput(name, value, ariaLabel) {
  const input = document.createElement('input');
  Object.assign(input, { type: 'number', name, value: String(value), step: '1', inputMode: 'numeric' });
  input.setAttribute('aria-label', ariaLabel);
  return input;
}

/**
 * Builds the inputs into `container`; returns
 *   read()         the values object (throws on bad input)
 *   params()       what the inputs hold as text, by input name, e.g. { seqMin: '128',
 *                  causal: '0' }: what a share link or the kept results carry
 *   fill(params)   sets inputs from such an object (throws on a name with no input)
 */
export function renderControls(container, specs) {
  const readers = [];
  for (const spec of specs) {
    if (spec.kind === 'int') {
      const input = numberInput(spec.key, spec.value, spec.label);
      container.append(field(spec.label, spec.hint, input));
      readers.push((v) => { v[spec.key] = parseWhole(input, spec.label); });
    } else if (spec.kind === 'text' || spec.kind === 'intList') {
      const input = document.createElement('input');
      Object.assign(input, { type: 'text', name: spec.key, value: spec.value });
      input.setAttribute('aria-label', spec.label);
      const f = field(spec.label, spec.hint, input);
      f.classList.add(`field-${spec.kind}`);
      if (spec.options?.length) {
        const list = document.createElement('datalist');
        list.id = `options-${spec.key}-${++datalists}`;
        list.append(...spec.options.map((o) => Object.assign(document.createElement('option'), { value: o })));
        input.setAttribute('list', list.id);
        f.append(list);
      }
      container.append(f);
      readers.push((v) => {
        if (spec.kind === 'text') { v[spec.key] = input.value; return; }
        v[spec.key] = input.value.split(',').map((part) => {
          const raw = part.trim();
          const n = Number(raw);
          if (raw === '' || !Number.isInteger(n)) throw new Error(`${spec.label}: "${raw}" is not a whole number`);
          return n;
        });
      });
    } else if (spec.kind === 'checkbox') {
      const input = document.createElement('input');
      Object.assign(input, { type: 'checkbox', name: spec.key, checked: spec.value });
      const f = field(spec.label, spec.hint, input);
      f.classList.add('field-check');
      container.append(f);
      readers.push((v) => { v[spec.key] = input.checked; });
    } else if (spec.kind === 'pow2Range') {
      const lo = numberInput(`${spec.key}Min`, spec.from, `${spec.label} from`);
      const hi = numberInput(`${spec.key}Max`, spec.to, `${spec.label} to`);
      const dash = document.createElement('span');
      dash.textContent = '…';
      dash.setAttribute('aria-hidden', 'true');
      container.append(field(spec.label, `powers of two, up to ${spec.max}`, lo, dash, hi));
      readers.push((v) => {
        const from = parseWhole(lo, `${spec.label} from`);
        const to = parseWhole(hi, `${spec.label} to`);
        if (to > spec.max) throw new Error(`${spec.label} to = ${to}: at most ${spec.max} on this page`);
        if (from > to) throw new Error(`${spec.label}: from = ${from} is larger than to = ${to}`);
        const points = [];
        // from <= 0 is passed on once, so the core explains what it expects.
        for (let s = from; s <= to; s *= 2) { points.push(s); if (s <= 0) break; }
        v[spec.key] = points;
      });
    } else {
      throw new Error(`unknown control kind ${spec.kind}`);
    }
  }
  const inputs = [...container.querySelectorAll('input[name]')];
  const byName = new Map(inputs.map((input) => [input.name, input]));
  return {
    read() {
      const values = {};
      for (const r of readers) r(values);
      return values;
    },
    params() {
      return Object.fromEntries(inputs.map((input) =>
        [input.name, input.type === 'checkbox' ? (input.checked ? '1' : '0') : input.value]));
    },
    fill(params) {
      const unknown = Object.keys(params).filter((name) => !byName.has(name));
      if (unknown.length)
        throw new Error(`${unknown.join(', ')}: not a parameter of this section (it has ${[...byName.keys()].join(', ')})`);
      for (const [name, value] of Object.entries(params)) {
        const input = byName.get(name);
        if (input.type === 'checkbox') input.checked = value === '1' || value === 'true' || value === true;
        else input.value = String(value);
      }
    },
  };
}
