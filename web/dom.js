// @ts-check
/** Building DOM without innerHTML: everything from the API is set as text. */

/** @typedef {Node | string | number | null | undefined | false} Child */

/**
 * An element; `attrs` keys starting with `on` are listeners, `testid` sets `data-testid`.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string | number | boolean | EventListener | undefined>} [attrs]
 * @param {Child[]} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'testid') el.dataset.testid = String(value);
    else if (name in el && name !== 'list') Reflect.set(el, name, value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'number' ? String(child) : child);
  }
  return el;
}

/**
 * @template Row
 * @typedef {{ label: string, cell: (row: Row) => Child, numeric?: boolean }} Column
 */

/**
 * A table with a header row, in its own horizontally scrolling box (a wide table never widens the
 * page); each body row carries `data-testid=rowTestid`, and `data-id=idOf(row)`. With no rows and an
 * `empty` text, that text (why there is nothing) stands in its place, with the same test id.
 * @template Row
 * @param {string} testid
 * @param {Column<Row>[]} columns
 * @param {Row[]} rows
 * @param {string} [rowTestid]
 * @param {(row: Row) => string} [idOf]
 * @param {string} [empty]
 */
export function table(testid, columns, rows, rowTestid = 'row', idOf, empty) {
  if (rows.length === 0 && empty)
    return h('p', { className: 'muted empty', testid, 'data-empty': 'true' }, empty);
  return scroll(
    h(
      'table',
      { testid },
      h(
        'thead',
        {},
        h('tr', {}, ...columns.map((c) => h('th', { className: c.numeric ? 'num' : '' }, c.label))),
      ),
      h(
        'tbody',
        {},
        ...rows.map((row) =>
          h(
            'tr',
            { testid: rowTestid, 'data-id': idOf?.(row) },
            ...columns.map((c) => h('td', { className: c.numeric ? 'num' : '' }, c.cell(row))),
          ),
        ),
      ),
    ),
  );
}

/** A box that scrolls its content sideways when it is wider than the screen. @param {Child[]} children */
export const scroll = (...children) => h('div', { className: 'table-scroll' }, ...children);

/**
 * A titled section.
 * @param {string} title
 * @param {string} testid
 * @param {Child[]} children
 */
export const section = (title, testid, ...children) =>
  h('section', { className: 'card', testid }, h('h2', {}, title), ...children);

/**
 * A link within the console.
 * @param {string} hash from route.href
 * @param {Child} text
 * @param {string} [testid]
 */
export const link = (hash, text, testid) => h('a', { href: hash, testid }, text);
