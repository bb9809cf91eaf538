// @ts-check
/**
 * The journeys a marketer edits: every journey (drafts too) with its live version and state, the
 * state changes (pause, resume, stop, archive; each asked first) and a new journey from a starter.
 */
import { get } from '../api.js';
import { ask } from '../dialog.js';
import { h, link, section, table } from '../dom.js';
import { t } from '../i18n.js';
import { canManage, send } from '../manage.js';
import { href, today } from '../route.js';
import { STARTER_NAMES, starterText } from '../starters.js';

/**
 * @typedef {{
 *   id: string, name: string | null, live: number | null,
 *   newest: { version: number, status: string, updatedAt: string | null },
 * }} Summary
 */

/** Where a new journey's text waits until it is first saved. @param {string} id */
export const unsavedKey = (id) => `tideline.console.unsaved.${id}`;

const ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** @param {import('../types').Context} ctx */
export async function editJourneysView(ctx) {
  const day = today(ctx.range.tz);
  const [{ journeys }, report, manage] = await Promise.all([
    /** @type {Promise<{ journeys: Summary[] }>} */ (get('v1/journeys')),
    /** @type {Promise<import('../types').JourneyList>} */ (
      get('v1/reports/journeys', { from: day, to: day, tz: ctx.range.tz })
    ),
    canManage(),
  ]);
  if (ctx.stale()) return;
  const state = new Map(report.journeys.map((j) => [j.id, j.state]));
  const refresh = () => void editJourneysView(ctx).catch(shown);
  const problem = h('p', { className: 'error', testid: 'action-error', role: 'alert' });
  /** @param {unknown} error */
  const shown = (error) => {
    problem.textContent = error instanceof Error ? error.message : String(error);
  };

  /**
   * @param {Summary} j
   * @param {string} action
   * @param {string} question
   * @param {{ value: string, label: string }[]} choices
   * @param {(choice: string) => Promise<unknown>} run
   */
  const actionButton = (j, action, question, choices, run) =>
    h(
      'button',
      {
        type: 'button',
        testid: `action-${action}`,
        onclick: async () => {
          const choice = await ask(question, `${j.name ?? j.id} (${j.id})`, choices);
          if (choice === null) return;
          try {
            await run(choice);
            refresh();
          } catch (error) {
            shown(error);
          }
        },
      },
      t(/** @type {import('../i18n.js').Label} */ (`action_${action}`)),
    );

  /** @param {Summary} j */
  const actions = (j) => {
    const now = state.get(j.id);
    if (j.live === null || now === undefined) return '';
    const path = `v1/journeys/${encodeURIComponent(j.id)}`;
    const yes = [{ value: 'yes', label: t('confirm') }];
    return h(
      'div',
      { className: 'actions' },
      now === 'running' && actionButton(j, 'pause', t('askPause'), yes, () => send('POST', `${path}/pause`)),
      now === 'paused' &&
        actionButton(j, 'resume', t('askResume'), yes, () => send('POST', `${path}/resume`)),
      now !== 'stopped' &&
        actionButton(
          j,
          'stop',
          t('askStop'),
          [
            { value: 'drain', label: t('stopDrain') },
            { value: 'exit', label: t('stopExit') },
          ],
          (mode) => send('POST', `${path}/stop`, { mode }),
        ),
      actionButton(j, 'archive', t('askArchive'), yes, () =>
        send('POST', `${path}/versions/${j.live}/archive`),
      ),
    );
  };

  /** @type {import('../dom.js').Column<Summary>[]} */
  const columns = [
    {
      label: t('journeyId'),
      cell: (j) => link(`#/edit/${encodeURIComponent(j.id)}`, j.id, 'edit-journey-link'),
    },
    { label: t('name'), cell: (j) => j.name ?? '' },
    { label: t('liveVersion'), cell: (j) => (j.live === null ? t('notPublished') : `v${j.live}`) },
    {
      label: t('newestVersion'),
      cell: (j) =>
        `v${j.newest.version} · ${t(/** @type {import('../i18n.js').Label} */ (`status_${j.newest.status}`))}`,
    },
    {
      label: t('state'),
      cell: (j) =>
        j.live === null
          ? ''
          : h('span', { testid: 'journey-state', 'data-state': state.get(j.id) }, state.get(j.id) ?? ''),
    },
    ...(manage ? [{ label: t('actions'), cell: actions }] : []),
  ];
  ctx.root.replaceChildren(
    section(
      t('editJourneys'),
      'edit-journeys',
      manage ? createForm(journeys) : h('p', { className: 'muted', testid: 'read-only' }, t('readOnlyKey')),
      problem,
      journeys.length === 0
        ? h('p', { className: 'muted' }, t('noJourneysYet'))
        : h(
            'div',
            { className: 'edit-table' },
            table('edit-journey-table', columns, journeys, 'edit-journey-row', (j) => j.id),
          ),
    ),
    h('p', {}, link(href({ page: 'journeys' }, ctx.range), `← ${t('back')}`, 'back-link')),
  );
}

/** @param {Summary[]} existing */
function createForm(existing) {
  const starter = h(
    'select',
    { testid: 'starter' },
    ...STARTER_NAMES.map((s) =>
      h('option', { value: s }, t(/** @type {import('../i18n.js').Label} */ (`starter_${s}`))),
    ),
  );
  const id = h('input', {
    type: 'text',
    required: true,
    placeholder: 'summer_sale',
    testid: 'new-id',
  });
  const name = h('input', { type: 'text', required: true, placeholder: t('name'), testid: 'new-name' });
  return h(
    'form',
    {
      className: 'create',
      testid: 'create-journey',
      onsubmit: (e) => {
        e.preventDefault();
        const taken = existing.some((j) => j.id === id.value);
        id.setCustomValidity(taken ? t('idTaken') : ID.test(id.value) ? '' : t('idRule'));
        if (!id.reportValidity() || !name.reportValidity()) return;
        const kind = /** @type {import('../starters.js').Starter} */ (starter.value);
        sessionStorage.setItem(unsavedKey(id.value), starterText(kind, id.value, name.value));
        location.hash = `#/edit/${encodeURIComponent(id.value)}`;
      },
    },
    h('label', {}, t('starter'), starter),
    h('label', {}, t('journeyId'), id),
    h('label', {}, t('name'), name),
    h('button', { type: 'submit', testid: 'create-submit' }, t('create')),
  );
}
