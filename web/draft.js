// @ts-check
/**
 * What the segment, tag rule and template editors share: a versioned document loaded as its newest
 * version, its JSON in a textarea (syntax errors at their line and column), the API's faults at
 * their JSON pointers, and saving a draft or publishing it through the definitions API.
 */
import { ApiError, get } from './api.js';
import { h } from './dom.js';
import { t } from './i18n.js';
import { send, sendText, WriteError } from './write.js';

/** @typedef {import('./write.js').Fault} Fault */
/** @typedef {{ id: string, version: number, status: string, document: Record<string, unknown> }} VersionView */

/**
 * The newest version of a document (a draft if there is one), or null when there is none yet.
 * @param {string} collection `segments`, `tag-rules`, `templates`
 * @param {string} id
 * @returns {Promise<VersionView | null>}
 */
export async function loadNewest(collection, id) {
  // From the list: a new id is no error (a GET of it would answer 404).
  /** @type {Record<string, { id: string, newest: { version: number } }[]>} */
  const list = await get(`v1/${collection}`);
  const found = list[collection]?.find((d) => d.id === id);
  if (!found) return null;
  return get(`v1/${collection}/${encodeURIComponent(id)}/versions/${found.newest.version}`);
}

/**
 * A version's status in words.
 * @param {string} status
 */
export const statusLabel = (status) =>
  ['draft', 'published', 'archived'].includes(status)
    ? t(/** @type {import('./i18n.js').Label} */ (`status_${status}`))
    : status;

/** The document without the fields the store assigns, as the marketer edits it. @param {Record<string, unknown>} doc */
export const editable = (doc) => {
  const { version: _version, ...rest } = doc;
  return JSON.stringify(rest, null, 2);
};

/**
 * The text as a JSON object, or where it stops being one. The browser's parser does not say where;
 * the API's does (as `tideline validate`): the text is posted as a body it cannot parse, and its
 * 400 names the line and column.
 * @param {string} text
 * @returns {Promise<{ doc: Record<string, unknown> } | { error: string }>}
 */
export async function parseDraft(text) {
  try {
    const doc = JSON.parse(text);
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { error: t('draftNotObject') };
    return { doc };
  } catch (error) {
    const fault = await sendText('v1/segments/preview', text).then(
      () => null,
      (refused) => (refused instanceof WriteError ? (refused.faults[0] ?? null) : null),
    );
    if (fault?.line === undefined) return { error: error instanceof Error ? error.message : String(error) };
    const where = t('lineColumn')
      .replace('{line}', String(fault.line))
      .replace('{column}', String(fault.column ?? 1));
    return { error: `${where}: ${fault.message.replace(/^body is /, '')}` };
  }
}

/**
 * The faults of a refused request, each at its pointer.
 * @param {Fault[]} faults
 * @param {string} testid
 */
export const faultList = (faults, testid) =>
  h(
    'ul',
    { className: 'faults', testid },
    ...faults.map((f) => h('li', { testid: 'fault' }, h('code', {}, f.pointer || '/'), ' ', f.message)),
  );

/**
 * A refused call shown where the editor reports: a read key says it cannot edit.
 * @param {HTMLElement} el
 * @param {unknown} error
 */
export function showError(el, error) {
  if (error instanceof ApiError && error.status === 403) {
    el.replaceChildren(h('p', { className: 'error', testid: 'read-only' }, t('needsManageKey')));
    return;
  }
  const faults = error instanceof WriteError ? error.faults : [];
  el.replaceChildren(
    h('p', { className: 'error' }, error instanceof Error ? error.message : String(error)),
    ...(faults.length > 1 ? [faultList(faults, 'faults')] : []),
  );
}

/**
 * A preview that follows a draft as it is typed: the text is parsed (a syntax error shown at its line
 * and column), then `show` renders what the API answers for the document; of previews that overlap,
 * only the newest shows. A refusal with faults is shown by `refused`, any other by `showError`.
 * @param {{
 *   text: HTMLTextAreaElement,
 *   ctx: { stale(): boolean },
 *   problems: HTMLElement,
 *   show: (doc: Record<string, unknown>, latest: () => boolean) => Promise<void>,
 *   refused: (error: WriteError) => Node[],
 * }} options
 * @returns {{ preview: () => Promise<void>, current: () => Record<string, unknown> | null }}
 */
export function livePreview({ text, ctx, problems, show, refused }) {
  /** @type {Record<string, unknown> | null} */
  let current = null;
  let asked = 0;
  const preview = async () => {
    const mine = ++asked;
    const newest = () => mine === asked && !ctx.stale();
    const parsed = await parseDraft(text.value);
    if (!newest()) return;
    if ('error' in parsed) {
      current = null;
      problems.replaceChildren(h('p', { className: 'error', testid: 'syntax-error' }, parsed.error));
      return;
    }
    current = parsed.doc;
    try {
      await show(parsed.doc, newest);
      if (newest()) problems.replaceChildren();
    } catch (error) {
      if (!newest()) return;
      if (error instanceof WriteError && error.faults.length > 0) problems.replaceChildren(...refused(error));
      else showError(problems, error);
    }
  };
  return { preview, current: () => current };
}

/**
 * Save draft and publish buttons for the document in `text`.
 * @param {string} collection
 * @param {string} id
 * @param {() => Record<string, unknown> | null} current the parsed draft, null while it does not parse
 * @param {HTMLElement} status where the outcome is said
 */
export function saveButtons(collection, id, current, status) {
  const path = `v1/${collection}/${encodeURIComponent(id)}`;
  const save = async () => {
    const doc = current();
    if (!doc) return null;
    const { version: _version, ...body } = doc;
    /** @type {VersionView} */
    const saved = await send('PUT', path, { ...body, id });
    return saved;
  };
  /** @param {boolean} publish */
  const run = async (publish) => {
    status.replaceChildren(h('span', { className: 'muted' }, t('saving')));
    try {
      const saved = await save();
      if (!saved) {
        status.replaceChildren(h('p', { className: 'error' }, t('draftInvalid')));
        return;
      }
      if (!publish) {
        status.replaceChildren(
          h('p', { testid: 'saved' }, `${t('savedDraft')} ${t('version')} ${saved.version}`),
        );
        return;
      }
      /** @type {VersionView} */
      const published = await send('POST', `${path}/versions/${saved.version}/publish`, {});
      status.replaceChildren(
        h('p', { testid: 'published' }, `${t('publishedVersion')} ${t('version')} ${published.version}`),
      );
    } catch (error) {
      showError(status, error);
    }
  };
  return h(
    'div',
    { className: 'actions' },
    h('button', { type: 'button', testid: 'save-draft', onclick: () => void run(false) }, t('saveDraft')),
    h('button', { type: 'button', testid: 'publish', onclick: () => void run(true) }, t('publish')),
  );
}
