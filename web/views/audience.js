// @ts-check
/**
 * The segment and tag rule editors: the list of both, and one document's JSON with the live count
 * of who it holds for and a sample of them (known users by id and name, anonymous visitors said to
 * be anonymous), then save as a draft or publish.
 */
import { get } from '../api.js';
import { editable, faultList, livePreview, loadNewest, saveButtons, statusLabel } from '../draft.js';
import { h, link, section, table } from '../dom.js';
import { int } from '../format.js';
import { t } from '../i18n.js';
import { href } from '../route.js';
import { debounce, send } from '../write.js';

/** @typedef {import('../route.js').AudienceKind} AudienceKind */
/** @typedef {{ id: string, name: string | null, live: number | null, newest: { version: number, status: string } }} Summary */
/** @typedef {import('../types').AudiencePreview} AudiencePreview */

/** @param {import('../types').Context} ctx @param {AudienceKind} kind @param {Summary[]} rows */
function listOf(ctx, kind, rows) {
  /** @type {import('../dom.js').Column<Summary>[]} */
  const columns = [
    {
      label: t('id'),
      cell: (r) => link(href({ page: 'segment', kind, id: r.id }, ctx.range), r.id, `${kind}-link`),
    },
    { label: t('docName'), cell: (r) => r.name ?? t('unknown') },
    { label: t('liveVersion'), cell: (r) => r.live ?? t('unknown'), numeric: true },
    {
      label: t('newestVersion'),
      cell: (r) => `${r.newest.version} (${statusLabel(r.newest.status)})`,
      numeric: true,
    },
  ];
  return rows.length === 0
    ? h('p', { className: 'muted' }, t('none'))
    : table(`${kind}-table`, columns, rows, `${kind}-row`, (r) => r.id);
}

/** A field and button that open the editor on a new id. @param {import('../types').Context} ctx @param {AudienceKind} kind */
function createForm(ctx, kind) {
  const input = h('input', {
    type: 'text',
    placeholder: t('newId'),
    pattern: '[a-z][a-z0-9_]*',
    testid: `new-${kind}-id`,
  });
  return h(
    'form',
    {
      className: 'inline',
      onsubmit: (e) => {
        e.preventDefault();
        if (input.reportValidity() && input.value)
          location.hash = href({ page: 'segment', kind, id: input.value }, ctx.range);
      },
    },
    input,
    h(
      'button',
      { type: 'submit', testid: `new-${kind}` },
      kind === 'segments' ? t('newSegment') : t('newTagRule'),
    ),
  );
}

/** @param {import('../types').Context} ctx */
export async function audienceListView(ctx) {
  /** @type {[{ segments: Summary[] }, { 'tag-rules': Summary[] }]} */
  const [segments, rules] = await Promise.all([get('v1/segments'), get('v1/tag-rules')]);
  if (ctx.stale()) return;
  ctx.root.replaceChildren(
    section(
      t('segments'),
      'segment-list',
      listOf(ctx, 'segments', segments.segments),
      createForm(ctx, 'segments'),
    ),
    section(
      t('tagRules'),
      'tag-rule-list',
      listOf(ctx, 'tag-rules', rules['tag-rules']),
      createForm(ctx, 'tag-rules'),
    ),
  );
}

/** A new document's starting point. @param {AudienceKind} kind @param {string} id */
const starter = (kind, id) =>
  kind === 'segments'
    ? {
        id,
        name: id,
        condition: {
          all: [{ fact: 'profile', path: '$.lifecycle.state', operator: 'equal', value: 'active' }],
        },
      }
    : {
        id,
        name: id,
        conditions: { all: [{ fact: 'event', path: '$.name', operator: 'equal', value: 'order_paid' }] },
        event: { type: 'add_tags', params: { tags: [id] } },
      };

/** @param {import('../types').Context} ctx @param {AudiencePreview['sample'][number]} m */
const memberCell = (ctx, m) =>
  m.anonymous
    ? h(
        'span',
        { testid: 'member-anonymous' },
        `${t('anonymousVisitor')} `,
        h('code', {}, m.anonymousId ?? ''),
      )
    : link(href({ page: 'user', id: m.userId ?? '' }, ctx.range), m.userId ?? '', 'member-link');

/**
 * @param {import('../types').Context} ctx
 * @param {AudienceKind} kind
 * @param {string} id
 */
export async function audienceEditorView(ctx, kind, id) {
  const newest = await loadNewest(kind, id);
  if (ctx.stale()) return;
  const field = kind === 'segments' ? 'condition' : 'conditions';
  const text = h('textarea', {
    className: 'code',
    spellcheck: false,
    rows: 22,
    testid: 'draft-json',
    value: editable(newest?.document ?? starter(kind, id)),
  });
  const problems = h('div', { testid: 'draft-problems' });
  const count = h('p', { className: 'count', testid: 'preview-count' }, t('loading'));
  const sample = h('div', { testid: 'preview-sample' });
  const status = h('div', { testid: 'save-status' });

  const { preview, current } = livePreview({
    text,
    ctx,
    problems,
    show: async (doc, latest) => {
      /** @type {AudiencePreview} */
      const answer = await send('POST', `v1/${kind}/preview`, { [field]: doc[field], limit: 10 });
      if (!latest()) return;
      count.replaceChildren(
        h('strong', { testid: 'member-count' }, int(answer.count)),
        ` ${t('ofScanned')} ${int(answer.scanned)}`,
      );
      /** @type {import('../dom.js').Column<AudiencePreview['sample'][number]>[]} */
      const columns = [
        { label: t('who'), cell: (m) => memberCell(ctx, m) },
        { label: t('memberName'), cell: (m) => m.name ?? t('unknown') },
      ];
      sample.replaceChildren(
        answer.sample.length === 0
          ? h('p', { className: 'muted' }, t('noMembers'))
          : table('member-table', columns, answer.sample, 'member-row'),
      );
    },
    // The API's pointers are into what was sent: the condition is at its field of the document.
    refused: (error) => [
      faultList(
        error.faults.map((f) => ({
          ...f,
          pointer: f.pointer.startsWith(`/${field}`) ? f.pointer : `/${field}${f.pointer}`,
        })),
        'faults',
      ),
    ],
  });
  text.addEventListener(
    'input',
    debounce(() => void preview(), 400),
  );

  ctx.root.replaceChildren(
    h(
      'section',
      { className: 'card head' },
      h('h1', { testid: 'editor-title' }, `${kind === 'segments' ? t('segment') : t('tagRule')} ${id}`),
      link(href({ page: 'segments' }, ctx.range), t('allSegments'), 'back-link'),
      newest
        ? h(
            'span',
            { className: 'muted' },
            `${t('version')} ${newest.version} (${statusLabel(newest.status)})`,
          )
        : h('span', { className: 'muted' }, t('newDocument')),
    ),
    h(
      'div',
      { className: 'editor' },
      section(t('definition'), 'editor', text, problems, saveButtons(kind, id, current, status), status),
      section(kind === 'segments' ? t('liveCount') : t('wouldTag'), 'preview', count, sample),
    ),
  );
  await preview();
}
