// @ts-check
/**
 * The ingestion debugger: the last messages the API received, accepted or rejected with their
 * reasons, newest first, and new ones as they arrive (the read API's server-sent events).
 */
import { get, readKey } from '../api.js';
import { h, link, scroll, section } from '../dom.js';
import { time } from '../format.js';
import { t } from '../i18n.js';
import { href } from '../route.js';
import { term } from '../terms.js';

/** @typedef {import('../types').IngestEntry} Entry */

const SHOWN = 500;
/** The live tail of the screen on show; a new screen stops the last one's. */
let tail = new AbortController();

/** @param {Entry} e @param {import('../types').Range} range */
function row(e, range) {
  const who = e.userId ?? e.anonymousId;
  const reasons = e.errors
    ? h(
        'ul',
        { className: 'reasons' },
        ...(e.httpStatus ? [h('li', {}, `HTTP ${e.httpStatus}`)] : []),
        ...e.errors.map((f) => h('li', {}, h('code', {}, f.pointer || t('body')), ' ', f.message)),
      )
    : null;
  const raw = e.message
    ? h('details', {}, h('summary', {}, 'JSON'), h('pre', {}, JSON.stringify(e.message, null, 2)))
    : null;
  return h(
    'tr',
    { testid: 'ingest-row', 'data-status': e.status, 'data-seq': e.seq },
    h('td', {}, time(e.receivedAt, range.tz)),
    h('td', {}, h('span', { className: `chip ${e.status}` }, t(e.status))),
    h('td', {}, h('code', {}, e.index === undefined ? e.path : `${e.path} [${e.index}]`)),
    h('td', {}, e.type ? term('eventType', e.type) : ''),
    h('td', {}, e.event ?? ''),
    h('td', {}, who ? link(href({ page: 'user', id: who }, range), who, 'ingest-user') : ''),
    h('td', {}, reasons, raw),
  );
}

/**
 * Reads the server-sent events of `path` (fetch, for the key goes in a header) and calls `onEntry`
 * with each, until `signal` aborts.
 * @param {string} path @param {AbortSignal} signal @param {(e: Entry) => void} onEntry
 */
async function follow(path, signal, onEntry) {
  const res = await fetch(new URL(path, new URL('../', document.baseURI)), {
    headers: { authorization: `Bearer ${readKey()}` },
    credentials: 'omit',
    signal,
  });
  if (!res.ok || !res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data: '))
        .map((line) => line.slice(6))
        .join('\n');
      if (data) onEntry(JSON.parse(data));
    }
  }
}

/** @param {import('../types').Context} ctx */
export async function ingestView(ctx) {
  tail.abort();
  tail = new AbortController();
  const signal = tail.signal;
  const rejectedOnly = new URLSearchParams(location.hash.split('?')[1] ?? '').get('status') === 'rejected';
  const status = rejectedOnly ? 'rejected' : undefined;
  /** @type {import('../types').IngestList} */
  const list = await get('v1/ingest/messages', { limit: String(SHOWN), status });
  if (ctx.stale()) return;

  const body = h('tbody', {}, ...list.messages.map((e) => row(e, ctx.range)));
  const empty = h('p', { className: 'muted', testid: 'ingest-empty' }, t('noMessages'));
  const filter = (/** @type {boolean} */ rejected) =>
    h(
      'a',
      {
        className: 'toggle',
        href: `#/ingest${rejected ? '?status=rejected' : ''}`,
        'aria-pressed': String(rejected === rejectedOnly),
        testid: rejected ? 'ingest-filter-rejected' : 'ingest-filter-all',
      },
      rejected ? t('ingestRejected') : t('ingestAll'),
    );
  const live = h('span', { className: 'chip live', testid: 'ingest-live', hidden: true }, t('live'));
  ctx.root.replaceChildren(
    section(
      t('ingest'),
      'ingest',
      h('p', { className: 'muted' }, t('ingestHelp')),
      h('div', { className: 'toggles' }, filter(false), filter(true), live),
      list.messages.length === 0 ? empty : null,
      scroll(
        h(
          'table',
          { testid: 'ingest-table' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...[t('received'), t('status'), t('route'), t('type'), t('event'), t('who'), t('reasons')].map(
                (label) => h('th', {}, label),
              ),
            ),
          ),
          body,
        ),
      ),
    ),
  );

  const stream = `v1/ingest/messages/stream${status ? `?status=${status}` : ''}`;
  live.hidden = false;
  follow(stream, signal, (entry) => {
    if (ctx.stale()) return tail.abort();
    empty.remove();
    body.prepend(row(entry, ctx.range));
    while (body.children.length > SHOWN) body.lastElementChild?.remove();
  })
    .catch(() => {})
    .finally(() => {
      live.hidden = true;
    });
}
