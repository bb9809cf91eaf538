// @ts-check
/**
 * One journey in the code editor: its JSON with completion from the JSON Schema and the engine's
 * faults inline, the map drawn from the draft (a click on a step shows its JSON), the diff against
 * the published version, and validate, save, backtest and publish.
 */
import { get } from '../api.js';
import { mount } from '../charts.js';
import { ask } from '../dialog.js';
import { h, section, table } from '../dom.js';
import { edgesOf, journeyGraph } from '../graph.js';
import { int, time } from '../format.js';
import { t } from '../i18n.js';
import { canManage, send } from '../manage.js';
import { unsavedKey } from './edit-journeys.js';

/** @typedef {import('../codemirror/editor.js').CodeEditor} CodeEditor */
/** @typedef {import('../manage.js').Fault} Fault */
/**
 * @typedef {{
 *   entered: number, holdout: number, sends: Record<string, number>, skipped: Record<string, number>,
 *   failed: Record<string, number>, exits: Record<string, number>, goalReached: number,
 *   holdoutGoalReached: number,
 * }} Totals
 */
/** @typedef {{ from: string, to: string, messages: number, users: number, journeys: Record<string, Totals>, timelines: Record<string, string[]> }} Backtest */

/** The code editor's bundle (built by `npm run build`), loaded once an editor opens. */
const editorModule = () =>
  /** @type {Promise<typeof import('../codemirror/editor.js')>} */ (
    import(new URL('vendor/editor.js', document.baseURI).href)
  );

const PERIODS = ['P7D', 'P30D', 'P90D'];
const DAY = 86_400_000;

/** @param {string} text @returns {{ steps?: unknown } | null} */
function parsed(text) {
  try {
    const doc = JSON.parse(text);
    return typeof doc === 'object' && doc !== null && !Array.isArray(doc) ? doc : null;
  } catch {
    return null;
  }
}

/** @param {unknown} doc @returns {import('../graph.js').StepDoc[]} */
function stepsOf(doc) {
  const steps = /** @type {{ steps?: unknown }} */ (doc ?? {}).steps;
  if (!Array.isArray(steps)) return [];
  return steps.filter(
    (s) => typeof s === 'object' && s !== null && typeof s.id === 'string' && typeof s.type === 'string',
  );
}

/**
 * The map of a draft: no counts yet, and no edge to a step that does not exist (the editor names it).
 * @param {import('../graph.js').StepDoc[]} steps
 */
function draftMap(steps) {
  const { option, height } = journeyGraph(steps, [], []);
  const ids = new Set(steps.map((s) => s.id));
  const series = /** @type {any} */ (option.series)[0];
  series.data = series.data.map((/** @type {any} */ n, /** @type {number} */ i) => ({
    ...n,
    label: { formatter: `{b|${steps[i].id}}\n${steps[i].type}` },
  }));
  series.links = series.links.filter((/** @type {any} */ l) => ids.has(l.target));
  // Redrawn as the draft changes: at once, not animated from the previous draw.
  return {
    option: { ...option, animation: false },
    height,
    edges: edgesOf(steps).filter((e) => ids.has(e.target)),
  };
}

/**
 * @param {import('../types').Context} ctx
 * @param {string} id
 */
export async function editJourneyView(ctx, id) {
  const path = `v1/journeys/${encodeURIComponent(id)}`;
  const unsaved = sessionStorage.getItem(unsavedKey(id));
  /** @type {import('../types').JourneyDefinition | null} */
  let stored = null;
  // A new journey (created in this tab, not saved yet) has nothing stored to read.
  if (unsaved === null) stored = await get(path);
  const newest = stored?.versions.at(-1);
  /** @type {import('../types').JourneyVersion | null} */
  const draft = newest?.status === 'draft' ? await get(`${path}/versions/${newest.version}`) : null;
  const [manage, { codeEditor, diffView }, schema] = await Promise.all([
    canManage(),
    editorModule(),
    fetch(new URL('vendor/schemas/journey.schema.json', document.baseURI)).then((r) => r.json()),
  ]);
  if (ctx.stale()) return;
  let live = stored?.live ?? null;
  // The version number is the store's to assign: the editor and the diff leave it out.
  const show = (/** @type {object} */ doc) => {
    const { version: _version, ...rest } = /** @type {Record<string, unknown>} */ (doc);
    return `${JSON.stringify(rest, null, 2)}\n`;
  };
  const initial = unsaved ?? show((draft ?? live)?.document ?? {});

  const status = h('p', { className: 'muted', testid: 'editor-status' });
  const problems = h('ol', { className: 'faults', testid: 'editor-faults' });
  const mapEl = h('div', { className: 'graph editor-map', testid: 'draft-map' });
  const diffEl = h('div', { className: 'diff', testid: 'draft-diff', hidden: true });
  const results = h('div', { testid: 'backtest' });
  const codeEl = h('div', { className: 'code', testid: 'code-editor' });

  /** @param {string} message @param {'ok' | 'error' | ''} [tone] */
  const say = (message, tone = '') => {
    status.textContent = message;
    status.className = tone === 'error' ? 'error' : tone === 'ok' ? 'ok' : 'muted';
  };
  const describe = () => {
    const saved = newestVersion();
    say(
      [
        live ? `${t('liveVersion')}: v${live.version}` : t('notPublished'),
        saved && saved.status === 'draft' ? `${t('status_draft')}: v${saved.version}` : null,
      ]
        .filter(Boolean)
        .join(' · '),
    );
  };
  /** @type {{ version: number, status: string } | undefined} */
  let newestSaved = newest;
  const newestVersion = () => newestSaved;

  /** @param {Fault[]} faults */
  const listFaults = (faults) => {
    if (faults.length === 0) {
      problems.replaceChildren(h('li', { className: 'ok', testid: 'editor-valid' }, t('noProblems')));
      return;
    }
    problems.replaceChildren(
      ...faults.map((f) =>
        h(
          'li',
          { testid: 'editor-fault', 'data-line': f.line },
          h(
            'button',
            {
              type: 'button',
              className: 'link',
              onclick: () => editor.revealPointer(f.pointer),
            },
            f.line === undefined ? '' : `${t('line')} ${f.line}:${f.column} `,
          ),
          f.pointer ? `${f.pointer}: ${f.message}` : f.message,
        ),
      ),
    );
  };

  /** @param {string} text @returns {Promise<Fault[]>} */
  const validate = async (text) => {
    const answer = /** @type {{ faults: Fault[] }} */ (await send('POST', 'v1/journeys/validate', text));
    if (editor && editor.text() === text) listFaults(answer.faults);
    return answer.faults;
  };

  /** @type {import('echarts').ECharts | null} */
  let chart = null;
  /** @type {import('../graph.js').StepDoc[]} */
  let steps = [];
  const drawMap = (/** @type {string} */ text) => {
    const doc = parsed(text);
    if (!doc) return;
    steps = stepsOf(doc);
    const map = draftMap(steps);
    mapEl.style.height = `${map.height}px`;
    mapEl.dataset.steps = steps.map((s) => s.id).join(' ');
    mapEl.dataset.edges = map.edges.map((e) => `${e.source}>${e.target}`).join(' ');
    if (!chart) {
      chart = mount(mapEl, map.option);
      chart.on('click', (p) => {
        if (p.dataType === 'node' && typeof p.dataIndex === 'number')
          editor.revealPointer(`/steps/${p.dataIndex}/id`);
      });
    } else {
      chart.resize();
      chart.clear();
      chart.setOption(map.option);
    }
  };
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let redraw;
  const editor = codeEditor(codeEl, {
    text: initial,
    schema,
    validate,
    readOnly: !manage,
    onChange: (text) => {
      if (unsaved !== null) sessionStorage.setItem(unsavedKey(id), text);
      clearTimeout(redraw);
      redraw = setTimeout(() => drawMap(text), 250);
    },
  });

  /** The document to save or backtest, or null (the editor shows why). */
  const documentNow = () => {
    const doc = parsed(editor.text());
    if (!doc) {
      say(t('fixJsonFirst'), 'error');
      editor.revalidate();
    }
    return doc;
  };
  /** @param {unknown} error */
  const failed = (error) => {
    say(error instanceof Error ? error.message : String(error), 'error');
    const faults = /** @type {{ faults?: Fault[] }} */ (error).faults;
    if (faults?.length) editor.revalidate();
  };
  const saveDraft = async () => {
    const doc = documentNow();
    if (!doc) return null;
    const saved = /** @type {import('../types').JourneyVersion} */ (await send('PUT', path, doc));
    sessionStorage.removeItem(unsavedKey(id));
    newestSaved = saved;
    return saved;
  };

  const toggleDiff = () => {
    if (!diffEl.hidden) {
      diffEl.hidden = true;
      diffEl.replaceChildren();
      return;
    }
    diffEl.hidden = false;
    if (!live) {
      diffEl.replaceChildren(h('p', { className: 'muted' }, t('nothingPublished')));
      return;
    }
    const doc = parsed(editor.text());
    diffEl.replaceChildren(
      h(
        'div',
        { className: 'diff-heads' },
        h('span', {}, `${t('published')} v${live.version}`),
        h('span', {}, t('draft')),
      ),
    );
    const views = h('div', { testid: 'diff-view' });
    diffEl.append(views);
    diffView(views, show(live.document), doc ? show(doc) : editor.text());
  };

  const period = h(
    'select',
    { testid: 'backtest-period' },
    ...PERIODS.map((p) =>
      h(
        'option',
        { value: p, selected: p === 'P30D' },
        t(/** @type {import('../i18n.js').Label} */ (`last_${p}`)),
      ),
    ),
  );
  const backtest = async () => {
    const doc = documentNow();
    if (!doc) return;
    const until = Date.now();
    const since = until - Number(period.value.slice(1, -1)) * DAY;
    say(t('backtesting'));
    results.replaceChildren();
    try {
      /** @type {Backtest} */
      const answer = await send('POST', 'v1/journeys/backtest', {
        journey: { ...doc, id },
        since: new Date(since).toISOString(),
        until: new Date(until).toISOString(),
        users: 5,
      });
      const report = backtestReport(answer, id, ctx.range.tz);
      // The period replayed, exactly, so that a test can ask the API for the same one.
      report.dataset.since = new Date(since).toISOString();
      report.dataset.until = new Date(until).toISOString();
      results.replaceChildren(report);
      describe();
    } catch (error) {
      failed(error);
    }
  };

  const publish = async () => {
    if (!documentNow()) return;
    const choice = await ask(t('askPublish'), `${id}`, [{ value: 'yes', label: t('publish') }]);
    if (choice === null) return;
    try {
      const saved = await saveDraft();
      if (!saved) return;
      const published = /** @type {import('../types').JourneyVersion} */ (
        await send('POST', `${path}/versions/${saved.version}/publish`)
      );
      live = published;
      newestSaved = published;
      describe();
      say(`${t('publishedNow')} v${published.version}`, 'ok');
    } catch (error) {
      failed(error);
    }
  };

  /** @param {string} label @param {string} testid @param {() => unknown} run @param {boolean} [enabled] */
  const button = (label, testid, run, enabled = true) =>
    enabled ? h('button', { type: 'button', testid, onclick: () => void run() }, label) : null;
  const toolbar = h(
    'div',
    { className: 'toolbar' },
    button(t('validate'), 'validate', () => editor.revalidate()),
    button(t('diff'), 'diff', toggleDiff),
    button(
      t('saveDraft'),
      'save-draft',
      async () => {
        try {
          const saved = await saveDraft();
          if (saved) say(`${t('savedDraft')} v${saved.version}`, 'ok');
        } catch (error) {
          failed(error);
        }
      },
      manage,
    ),
    manage ? h('label', {}, t('backtestOver'), period) : null,
    button(t('backtest'), 'backtest-run', backtest, manage),
    button(t('publish'), 'publish', publish, manage),
  );
  ctx.root.replaceChildren(
    section(
      `${t('editJourney')}: ${id}`,
      'journey-editor',
      h('p', {}, h('a', { href: '#/edit', testid: 'edit-list-link' }, `← ${t('editJourneys')}`)),
      manage ? null : h('p', { className: 'muted', testid: 'read-only' }, t('readOnlyKey')),
      toolbar,
      status,
      h('div', { className: 'editor-panes' }, h('div', {}, codeEl, problems), mapEl),
      diffEl,
    ),
    results,
  );
  describe();
  drawMap(initial);
  editor.revalidate();
}

/**
 * @param {Backtest} answer
 * @param {string} id
 * @param {string} tz
 */
function backtestReport(answer, id, tz) {
  const totals = answer.journeys[id] ?? {
    entered: 0,
    holdout: 0,
    sends: {},
    skipped: {},
    failed: {},
    exits: {},
    goalReached: 0,
    holdoutGoalReached: 0,
  };
  /** @param {string} testid @param {string} first @param {Record<string, number>} counts */
  const counts = (testid, first, counts) => {
    const rows = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b));
    return rows.length === 0
      ? h('p', { className: 'muted', testid }, t('none'))
      : table(
          testid,
          [
            { label: first, cell: ([key]) => key },
            { label: t('count'), cell: ([, n]) => int(n), numeric: true },
          ],
          rows,
          'count-row',
          ([key]) => key,
        );
  };
  /** @param {string} label @param {number} value @param {string} key */
  const figure = (label, value, key) =>
    h(
      'div',
      { className: 'figure', testid: `backtest-${key}`, 'data-value': value },
      h('span', {}, label),
      h('strong', {}, int(value)),
    );
  return section(
    t('backtestResult'),
    'backtest-result',
    h(
      'p',
      { className: 'muted' },
      `${time(answer.from, tz)} – ${time(answer.to, tz)} · ${int(answer.messages)} ${t('callsReplayed')}`,
    ),
    h(
      'div',
      { className: 'figures', testid: 'backtest-totals' },
      figure(t('entered'), totals.entered, 'entered'),
      figure(t('holdout'), totals.holdout, 'holdout'),
      figure(t('converted'), totals.goalReached, 'converted'),
      figure(t('holdoutConverted'), totals.holdoutGoalReached, 'holdout-converted'),
    ),
    h('h3', {}, t('sendsByStep')),
    counts('backtest-sends', t('stepChannel'), totals.sends),
    h('h3', {}, t('skippedByReason')),
    counts('backtest-skipped', t('stepReason'), totals.skipped),
    h('h3', {}, t('failedByReason')),
    counts('backtest-failed', t('stepReason'), totals.failed),
    h('h3', {}, t('exitsByReason')),
    counts('backtest-exits', t('reason'), totals.exits),
    h('h3', {}, t('sampleTimelines')),
    ...Object.entries(answer.timelines).map(([user, lines]) =>
      h('details', { testid: 'backtest-timeline' }, h('summary', {}, user), h('pre', {}, lines.join('\n'))),
    ),
  );
}
