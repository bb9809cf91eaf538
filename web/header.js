// @ts-check
/** The bar on every page: home, user search, report range, language, key. */
import { forgetKey, readKey } from './api.js';
import { h } from './dom.js';
import { lang, setLang, t } from './i18n.js';
import { href, validZone } from './route.js';

/** @typedef {import('./route.js').Page} Page */
/** @typedef {import('./route.js').Range} Range */

/** @param {Page} page @param {Range} range */
function rangeFields(page, range) {
  const from = h('input', { type: 'date', value: range.from, testid: 'range-from' });
  const to = h('input', { type: 'date', value: range.to, testid: 'range-to' });
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  const tz = h('input', { type: 'text', value: range.tz, list: 'zones', size: 18, testid: 'range-tz' });
  const apply = () => {
    tz.setCustomValidity(validZone(tz.value) ? '' : t('invalidTimezone'));
    if (!tz.reportValidity() || !from.value || !to.value || from.value > to.value) return;
    location.hash = href(page, { from: from.value, to: to.value, tz: tz.value });
  };
  for (const input of [from, to, tz]) input.addEventListener('change', apply);
  return h(
    'div',
    { className: 'range', testid: 'range' },
    h('label', {}, t('from'), from),
    h('label', {}, t('to'), to),
    h('label', {}, t('timezone'), tz),
    h('datalist', { id: 'zones' }, ...zones.map((z) => h('option', { value: z }))),
  );
}

/**
 * @param {HTMLElement} el
 * @param {Page} page
 * @param {Range} range
 * @param {() => void} rerender after the language or the key changed
 */
export function renderHeader(el, page, range, rerender) {
  const search = h('input', {
    type: 'search',
    placeholder: t('searchUser'),
    testid: 'user-search',
    required: true,
  });
  const form = h(
    'form',
    {
      className: 'search',
      role: 'search',
      onsubmit: (e) => {
        e.preventDefault();
        const id = search.value.trim();
        if (id) location.hash = href({ page: 'user', id }, range);
      },
    },
    search,
    h('button', { type: 'submit', testid: 'user-search-submit' }, t('search')),
  );
  const language = h(
    'div',
    { className: 'toggles', testid: 'lang' },
    .../** @type {const} */ (['zh', 'en']).map((l) =>
      h(
        'button',
        {
          type: 'button',
          className: 'toggle',
          testid: `lang-${l}`,
          'aria-pressed': String(lang() === l),
          onclick: () => {
            setLang(l);
            rerender();
          },
        },
        l === 'zh' ? '中文' : 'English',
      ),
    ),
  );
  const key = readKey()
    ? h(
        'button',
        {
          type: 'button',
          className: 'link',
          testid: 'key-forget',
          onclick: () => {
            forgetKey();
            rerender();
          },
        },
        t('keyForget'),
      )
    : null;
  const parts = [
    h('a', { href: href({ page: 'journeys' }, range), className: 'brand', testid: 'home' }, t('title')),
    h('a', { href: href({ page: 'ingest' }, range), className: 'nav', testid: 'ingest-link' }, t('ingest')),
    h(
      'a',
      { href: href({ page: 'segments' }, range), className: 'nav', testid: 'segments-link' },
      t('segments'),
    ),
    h(
      'a',
      { href: href({ page: 'templates' }, range), className: 'nav', testid: 'templates-link' },
      t('templates'),
    ),
    h('a', { href: href({ page: 'edit' }, range), className: 'nav', testid: 'edit-link' }, t('editJourneys')),
    form,
    page.page === 'journeys' || page.page === 'journey' ? rangeFields(page, range) : null,
    h('div', { className: 'spacer' }),
    language,
    key,
  ];
  el.replaceChildren(...parts.filter((part) => part !== null));
}
