// Result tables.
//
// A spec:
//   { caption?, test?: 'name' (-> data-test attribute), rows: [...],
//     columns: [{ label, group?, value: row => raw, format?: raw => string | Node | [..],
//                 attrs?: row => { 'data-x': ... } , numeric?: true }] }
// Consecutive columns with the same `group` share a header cell above theirs.

/** A small coloured label for a cell, e.g. badge('ok', 'ok') or badge('too large', 'bad'). */
export function badge(text, kind) {
  const b = document.createElement('span');
  b.className = `badge badge-${kind}`;
  b.textContent = text;
  return b;
}

function th(text, attrs = {}) {
  const cell = document.createElement('th');
  cell.textContent = text;
  for (const [k, v] of Object.entries(attrs)) cell.setAttribute(k, v);
  return cell;
}

export function renderTable(container, spec) {
  const table = document.createElement('table');
  if (spec.test) table.dataset.test = spec.test;
  if (spec.caption) table.createCaption().textContent = spec.caption;

  const thead = table.createTHead();
  const grouped = spec.columns.some((c) => c.group);
  const top = thead.insertRow();
  const bottom = grouped ? thead.insertRow() : null;
  for (let i = 0; i < spec.columns.length; ) {
    const c = spec.columns[i];
    if (!c.group) {
      top.append(th(c.label, { scope: 'col', ...(grouped ? { rowspan: '2' } : {}) }));
      i++;
      continue;
    }
    let j = i;
    while (j < spec.columns.length && spec.columns[j].group === c.group) {
      bottom.append(th(spec.columns[j].label, { scope: 'col' }));
      j++;
    }
    top.append(th(c.group, { scope: 'colgroup', colspan: String(j - i), class: 'group' }));
    i = j;
  }

  const tbody = table.createTBody();
  for (const row of spec.rows) {
    const tr = tbody.insertRow();
    for (const c of spec.columns) {
      const cell = tr.insertCell();
      const raw = c.value(row);
      const shown = c.format ? c.format(raw, row) : String(raw);
      cell.append(...(Array.isArray(shown) ? shown : [shown]));
      if (c.numeric !== false) cell.className = 'num';
      for (const [k, v] of Object.entries(c.attrs?.(row) ?? {})) cell.setAttribute(k, v);
    }
  }

  const wrap = document.createElement('div');
  wrap.className = 'table-wrap';
  wrap.append(table);
  container.replaceChildren(wrap);
}
