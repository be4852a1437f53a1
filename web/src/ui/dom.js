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
