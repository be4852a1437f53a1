// schema.mjs — the one check of every call's arguments, driven by the
// descriptions the bindings declare (api.hpp: def<Fn>(name, descriptions...),
// wasm::object<T>) and the module hands over as apiSchema().
//
//   const check = checker(core.apiSchema());
//   check('runAttention', [config]);   // throws Error('config.seq = 1.5: expected an integer')
//
// Each message names the argument (a path for a field: "config.sampler.topK"),
// shows its value as JS would write it, and says what was expected:
//   integer        "model.layers = 1.5: expected an integer"
//                  "seed = -1: expected an integer in [0, 4294967295]"
//   number         "config.lr = undefined: expected a finite number"
//   boolean        "config.causal = \"no\": expected true or false"
//   string         "config.format = 5: expected a string"
//                  "config.preemption = \"evict\": expected one of \"recompute\", \"swap\""
//   object         "config = 0: expected an object with the fields of AttentionConfig: seq, ..."
//                  "config.sequence = 64: expected one of the fields of AttentionConfig: seq, ..."
//   typed array    "q = null: expected a Float32Array"
//                  "q.length = 5: expected shape.heads · shape.seqQ · shape.headDim = 24"
//   function       "onToken = 5: expected a function or undefined"
//   arguments      "arguments.length = 3: expected 2 (config, onToken)"
// Typed arrays, strings and integer arrays larger than one call may hold
// (limits.callBytes) are refused too, before anything is copied into the heap.

const typedArrays = { float32_array: Float32Array, uint8_array: Uint8Array };

// A value as JS writes it, short: 1.5, "8", undefined, null, [1,2], {...}.
export function show(x) {
  try {
    if (typeof x === 'string') return JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}…` : x);
    if (typeof x === 'function') return 'a function';
    if (typeof x === 'bigint') return `${x}n`;
    if (ArrayBuffer.isView(x)) return `${x.constructor.name}(${x.length})`;
    if (Array.isArray(x)) return x.length > 4 ? `[${x.slice(0, 4).map(show).join(',')},…]` : `[${x.map(show).join(',')}]`;
    if (x !== null && typeof x === 'object') return '{…}';
    return String(x);
  } catch {
    return '(a value that cannot be shown)';
  }
}

function fail(path, x, expected) {
  throw new Error(`${path} = ${show(x)}: expected ${expected}`);
}

const isPlainObject = (x) => x !== null && typeof x === 'object' && !Array.isArray(x) && !ArrayBuffer.isView(x);

export function checker(schema) {
  const { functions, objects, limits } = schema;

  function checkValue(spec, x, path, arrays) {
    switch (spec.kind) {
      case 'integer':
        if (typeof x !== 'number' || !Number.isInteger(x)) fail(path, x, 'an integer');
        if (x < spec.min || x > spec.max) fail(path, x, `an integer in [${spec.min}, ${spec.max}]`);
        return;
      case 'number':
        if (typeof x !== 'number' || !Number.isFinite(x)) fail(path, x, 'a finite number');
        return;
      case 'any_number':
        if (typeof x !== 'number') fail(path, x, 'a number');
        return;
      case 'boolean':
        if (typeof x !== 'boolean') fail(path, x, 'true or false');
        return;
      case 'string':
        if (typeof x !== 'string') fail(path, x, 'a string');
        if (x.length > limits.callBytes) fail(`${path}.length`, x.length, `at most ${limits.callBytes} characters`);
        if (spec.values && !spec.values.includes(x)) fail(path, x, `one of ${spec.values.map((v) => JSON.stringify(v)).join(', ')}`);
        return;
      case 'object': {
        const fields = objects[spec.type];
        const names = fields.map((f) => f.name);
        if (!isPlainObject(x)) fail(path, x, `an object with the fields of ${spec.type}: ${names.join(', ')}`);
        for (const key of Object.keys(x))
          if (!names.includes(key)) fail(`${path}.${key}`, x[key], `one of the fields of ${spec.type}: ${names.join(', ')}`);
        for (const f of fields) checkValue(f, x[f.name], `${path}.${f.name}`, arrays);
        return;
      }
      case 'float32_array':
      case 'uint8_array': {
        const type = typedArrays[spec.kind];
        if (!(x instanceof type)) fail(path, x, `a ${type.name}`);
        if (x.byteLength > limits.callBytes) fail(`${path}.length`, x.length, `at most ${limits.callBytes / x.BYTES_PER_ELEMENT} values (${limits.callBytes} bytes, what one call may hold)`);
        if (spec.length) arrays.push({ spec, x, path });  // once every size is checked
        return;
      }
      case 'integer_array':
        if (!Array.isArray(x)) fail(path, x, 'an array of integers');
        if (x.length * 8 > limits.callBytes) fail(`${path}.length`, x.length, `at most ${limits.callBytes / 8} values`);
        x.forEach((v, i) => checkValue({ ...spec, kind: 'integer' }, v, `${path}[${i}]`, arrays));
        return;
      case 'function':
        if (x !== undefined && typeof x !== 'function') fail(path, x, 'a function or undefined');
        return;
      default:
        throw new Error(`${path}: the schema has no check for kind ${spec.kind}`);
    }
  }

  // The value at a path of the arguments: "shape.heads".
  function at(params, args, path) {
    const [first, ...rest] = path.split('.');
    let x = args[params.findIndex((p) => p.name === first)];
    for (const key of rest) x = x[key];
    return x;
  }

  return function check(name, args) {
    const params = functions[name];
    if (!params) throw new Error(`the memlab module has no function ${name}`);
    if (args.length > params.length)
      fail('arguments.length', args.length, `${params.length} (${params.map((p) => p.name).join(', ') || 'none'})`);
    const arrays = [];
    params.forEach((p, i) => checkValue(p, args[i], p.name, arrays));
    for (const { spec, x, path } of arrays) {
      const sizes = spec.length.map((p) => at(params, args, p));
      const expected = sizes.reduce((a, b) => a * b, 1);
      if (x.length !== expected) fail(`${path}.length`, x.length, `${spec.length.join(' · ')} = ${expected}`);
    }
  };
}
