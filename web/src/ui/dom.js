// el('div', { className: 'x', dataset: { a: '1' }, onclick }, child, 'text', ...):
// an element with properties (or attributes, for names that are not properties)
// and children.
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k in node) node[k] = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

// svg('rect', { x: 0, width: 4 }, 'text'): an SVG element with attributes (as
// strings) and, when given, its text.
export function svg(tag, attrs = {}, text) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}
