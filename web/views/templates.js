// @ts-check
/**
 * The template editor: the list of templates, and one template's JSON with a live preview rendered
 * for a chosen user or the template's sample profile, the channel's limits measured as you type,
 * a test send to an address you type (through the configured provider), then save or publish.
 */
import { get } from '../api.js';
import {
  editable,
  faultList,
  livePreview,
  loadNewest,
  parseDraft,
  saveButtons,
  showError,
  statusLabel,
} from '../draft.js';
import { h, link, section, table } from '../dom.js';
import { int } from '../format.js';
import { t } from '../i18n.js';
import { href } from '../route.js';
import { debounce, send } from '../write.js';

/** @typedef {import('../types').TemplatePreview} TemplatePreview */
/** @typedef {import('../types').Measure} Measure */
/** @typedef {{ id: string, name: string | null, live: number | null, newest: { version: number, status: string } }} Summary */

/** @param {import('../types').Context} ctx */
export async function templateListView(ctx) {
  /** @type {{ templates: Summary[] }} */
  const { templates } = await get('v1/templates');
  if (ctx.stale()) return;
  /** @type {import('../dom.js').Column<Summary>[]} */
  const columns = [
    {
      label: t('id'),
      cell: (r) => link(href({ page: 'template', id: r.id }, ctx.range), r.id, 'template-link'),
    },
    { label: t('docName'), cell: (r) => r.name ?? t('unknown') },
    { label: t('liveVersion'), cell: (r) => r.live ?? t('unknown'), numeric: true },
    {
      label: t('newestVersion'),
      cell: (r) => `${r.newest.version} (${statusLabel(r.newest.status)})`,
      numeric: true,
    },
  ];
  ctx.root.replaceChildren(
    section(
      t('templates'),
      'template-list',
      templates.length === 0
        ? h('p', { className: 'muted' }, t('none'))
        : table('template-table', columns, templates, 'template-row', (r) => r.id),
    ),
  );
}

const str = (/** @type {unknown} */ v) => (typeof v === 'string' ? v : '');

/** One measure as a line: what, how many, the limit, and what is wrong. @param {Measure} m */
function measureLine(m) {
  const what =
    m.kind === 'key'
      ? m.pointer.replace('/data/', '')
      : t(/** @type {import('../i18n.js').Label} */ (`measure_${m.kind}`));
  const unit = m.unit === 'bytes' ? t('bytes') : t('characters');
  const parts = [`${what}: ${int(m.value)} ${unit}`];
  if (m.segments !== undefined) parts.push(`${int(m.segments)} ${t('segmentsBilled')}`);
  if (m.limit !== undefined) parts.push(`${t('limit')} ${int(m.limit)}`);
  return h(
    'li',
    { className: m.problem ? 'error' : '', testid: `measure-${m.kind}` },
    parts.join(' · '),
    m.problem
      ? ` — ${m.code && m.code !== 'invalid' ? t(/** @type {import('../i18n.js').Label} */ (`problem_${m.kind}_${m.code}`)) : m.problem}`
      : '',
  );
}

/** The message as its channel shows it. @param {TemplatePreview} p */
function rendered(p) {
  const m = p.message;
  switch (p.channel) {
    case 'sms': {
      const sign = `【${str(m.signName)}】`;
      const text = str(m.text);
      return h(
        'div',
        { className: 'phone' },
        h(
          'div',
          { className: 'bubble', testid: 'preview-sms' },
          text.startsWith(sign) ? text : `${sign}${text}`,
        ),
        h('p', { className: 'muted' }, `${str(m.templateCode)} ${JSON.stringify(m.params ?? {})}`),
      );
    }
    case 'email': {
      const frame = h('iframe', {
        className: 'mail',
        title: t('emailBody'),
        // No scripts, no same origin: the HTML is the marketer's, shown as a mail client would.
        sandbox: '',
        testid: 'preview-email-html',
      });
      frame.srcdoc =
        typeof m.html === 'string'
          ? m.html
          : `<pre>${str(m.text).replace(/[&<]/g, (c) => (c === '&' ? '&amp;' : '&lt;'))}</pre>`;
      return h(
        'div',
        {},
        h(
          'dl',
          { className: 'facts' },
          h('dt', {}, t('emailFrom')),
          h('dd', {}, str(m.from)),
          h('dt', {}, t('emailSubject')),
          h('dd', { testid: 'preview-subject' }, str(m.subject)),
        ),
        frame,
      );
    }
    case 'push':
      return h(
        'div',
        { className: 'push', testid: 'preview-push' },
        h('strong', {}, str(m.title)),
        h('p', {}, str(m.body)),
      );
    case 'wechat':
    case 'miniprogram': {
      const data = /** @type {Record<string, unknown>} */ (m.data ?? {});
      /** @type {import('../dom.js').Column<[string, unknown]>[]} */
      const columns = [
        { label: t('key'), cell: ([k]) => h('code', {}, k) },
        { label: t('value'), cell: ([, v]) => str(v) },
      ];
      return table('preview-wechat', columns, Object.entries(data), 'wechat-key');
    }
    default:
      return h('pre', {}, JSON.stringify(m, null, 2));
  }
}

/** Where a test goes, by channel. @param {string} channel */
const addressHint = (channel) =>
  channel === 'sms'
    ? t('phoneNumber')
    : channel === 'email'
      ? t('emailAddress')
      : channel === 'push'
        ? t('deviceToken')
        : t('openId');

/**
 * @param {import('../types').Context} ctx
 * @param {string} id
 */
export async function templateEditorView(ctx, id) {
  const newest = await loadNewest('templates', id);
  if (ctx.stale()) return;
  if (!newest) {
    ctx.root.replaceChildren(section(t('notFound'), 'not-found', h('p', {}, `${t('template')} ${id}`)));
    return;
  }
  const text = h('textarea', {
    className: 'code',
    spellcheck: false,
    rows: 24,
    testid: 'draft-json',
    value: editable(newest.document),
  });
  const user = h('input', { type: 'text', placeholder: t('sampleProfile'), testid: 'preview-user' });
  const problems = h('div', { testid: 'draft-problems' });
  const view = h('div', { testid: 'preview-message' });
  const measures = h('ul', { className: 'measures', testid: 'measures' });
  const warnings = h('ul', { className: 'warnings', testid: 'warnings' });
  const source = h('p', { className: 'muted', testid: 'preview-source' });
  const status = h('div', { testid: 'save-status' });

  const selected = () => (user.value.trim() ? { userId: user.value.trim() } : {});
  const { preview, current } = livePreview({
    text,
    ctx,
    problems,
    show: async (doc, latest) => {
      /** @type {TemplatePreview} */
      const answer = await send('POST', 'v1/templates/preview', {
        template: { ...doc, id, version: newest.version },
        ...selected(),
      });
      if (!latest()) return;
      source.textContent =
        answer.source.kind === 'user'
          ? `${t('renderedFor')} ${answer.source.userId}`
          : t('renderedForSample');
      view.replaceChildren(rendered(answer));
      measures.replaceChildren(...answer.measures.map(measureLine));
      warnings.replaceChildren(
        ...answer.warnings.map((w) => h('li', { testid: 'warning' }, `${w.variable}: ${t('noDefault')}`)),
      );
    },
    refused: (error) => [
      h('p', { className: 'error', testid: 'render-error' }, error.message),
      faultList(
        error.faults.map((f) => ({ ...f, pointer: f.pointer.replace(/^\/template/, '') || '/' })),
        'faults',
      ),
    ],
  });
  const later = debounce(() => void preview(), 400);
  text.addEventListener('input', later);
  user.addEventListener('input', later);

  const channel = str(newest.document.channel);
  const to = h('input', { type: 'text', placeholder: addressHint(channel), testid: 'test-address' });
  const pushProvider = h(
    'select',
    { testid: 'test-push-provider' },
    ...['fcm', 'apns', 'jpush'].map((p) => h('option', { value: p }, p)),
  );
  const pushPlatform = h(
    'select',
    { testid: 'test-push-platform' },
    ...['android', 'ios'].map((p) => h('option', { value: p }, p)),
  );
  const result = h('div', { testid: 'test-result' });
  const testSend = async () => {
    const parsed = await parseDraft(text.value);
    if ('error' in parsed) return;
    result.replaceChildren(h('span', { className: 'muted' }, t('sending')));
    try {
      /** @type {import('../types').TestSendResult} */
      const answer = await send('POST', 'v1/templates/test-send', {
        template: { ...parsed.doc, id, version: newest.version },
        ...selected(),
        to: to.value,
        ...(channel === 'push'
          ? { device: { provider: pushProvider.value, platform: pushPlatform.value } }
          : {}),
      });
      const said =
        answer.status === 'sent'
          ? `${t('testSent')} ${answer.provider} → ${answer.to}`
          : answer.status === 'sandbox'
            ? t('testSandbox')
            : `${t('testFailed')} ${answer.provider}: ${answer.class ?? ''} ${answer.code ?? ''} ${answer.detail ?? ''}`;
      result.replaceChildren(
        h(
          'p',
          {
            className: answer.status === 'failed' ? 'error' : '',
            testid: `test-${answer.status}`,
            'data-message-id': answer.messageId,
          },
          said,
        ),
      );
    } catch (error) {
      showError(result, error);
    }
  };

  ctx.root.replaceChildren(
    h(
      'section',
      { className: 'card head' },
      h('h1', { testid: 'editor-title' }, `${t('template')} ${id}`),
      h('span', { className: 'chip', testid: 'template-channel' }, channel),
      link(href({ page: 'templates' }, ctx.range), t('allTemplates'), 'back-link'),
      h('span', { className: 'muted' }, `${t('version')} ${newest.version} (${statusLabel(newest.status)})`),
    ),
    h(
      'div',
      { className: 'editor' },
      section(
        t('definition'),
        'editor',
        text,
        problems,
        saveButtons('templates', id, current, status),
        status,
      ),
      h(
        'div',
        { className: 'stack' },
        section(
          t('preview'),
          'preview',
          h('label', { className: 'field' }, t('previewFor'), user),
          source,
          view,
          measures,
          warnings,
        ),
        section(
          t('testSend'),
          'test-send',
          h('p', { className: 'muted' }, t('testSendHelp')),
          h(
            'form',
            {
              className: 'inline',
              onsubmit: (e) => {
                e.preventDefault();
                void testSend();
              },
            },
            to,
            channel === 'push' ? pushProvider : null,
            channel === 'push' ? pushPlatform : null,
            h('button', { type: 'submit', testid: 'test-send-button' }, t('send')),
          ),
          result,
        ),
      ),
    ),
  );
  await preview();
}
