// @ts-check
/**
 * Screen 2: one journey. Totals, the daily trend (by event date or entry cohort), the D0..D7 curve,
 * treatment against holdout, the journey map with its counts, and the breakdown tables.
 */
import { get } from '../api.js';
import { conversionCurve, daily, mount, redraw, shortDate } from '../charts.js';
import { h, link, scroll, section, table } from '../dom.js';
import { int, money, pct, points, time } from '../format.js';
import { journeyGraph } from '../graph.js';
import { fill, t } from '../i18n.js';
import { href } from '../route.js';
import { term } from '../terms.js';

/**
 * Below these counts in either group (treatment or holdout) the uplift's Wald interval says little,
 * and the console says "not enough data" instead of figures (docs/console.md states the rule).
 */
export const MIN_GROUP_USERS = 30;
export const MIN_GROUP_CONVERSIONS = 5;

/** @typedef {import('../types').JourneyReport} Report */
/** @typedef {import('../types').Funnel} Funnel */

/** @param {Report} r */
function tiles(r) {
  const tile = (/** @type {string} */ id, /** @type {string} */ label, /** @type {string} */ value) =>
    h(
      'div',
      { className: 'tile', testid: `tile-${id}` },
      h('span', { className: 'label' }, label),
      h('strong', {}, value),
    );
  const s = r.totals;
  return h(
    'div',
    { className: 'tiles', testid: 'totals' },
    tile('entered', t('entered'), int(s.entered)),
    tile('sent', t('sent'), int(s.sent)),
    tile('delivered', t('delivered'), int(s.delivered)),
    tile('clicked', t('clicked'), int(s.clicked)),
    tile('converted', t('converted'), int(s.converted)),
    tile('rate', t('conversionRate'), pct(s.conversionRate)),
    tile('revenue', t('revenue'), money(s.revenue)),
    tile('orders', t('orders'), int(s.orders)),
    tile('last-touch', t('lastTouchRevenue'), money(r.lastTouch.revenue)),
  );
}

/** Why the trend has nothing to draw, or null. @param {Report} r @param {'event' | 'cohort'} mode */
function trendEmpty(r, mode) {
  if (mode === 'cohort') return r.cohorts.some((c) => c.entered > 0) ? null : t('noEntriesInRange');
  return r.daily.some((d) => d.entered + d.sent + d.delivered + d.clicked + d.converted > 0)
    ? null
    : t('noActivityInRange');
}

/** @param {Report} r @param {'event' | 'cohort'} mode */
function trendOption(r, mode) {
  if (mode === 'event')
    return daily(
      r.daily.map((d) => d.date),
      /** @type {const} */ (['entered', 'sent', 'delivered', 'clicked', 'converted']).map((k) => ({
        name: t(k),
        values: r.daily.map((d) => d[k]),
      })),
    );
  return daily(
    r.cohorts.map((c) => c.date),
    [
      { name: t('entered'), values: r.cohorts.map((c) => c.entered) },
      { name: t('converted'), values: r.cohorts.map((c) => c.converted) },
      { name: t('holdoutEntered'), values: r.cohorts.map((c) => c.holdoutEntered) },
      { name: t('holdoutConverted'), values: r.cohorts.map((c) => c.holdoutConverted) },
      { name: t('conversionRate'), values: r.cohorts.map((c) => c.conversionRate), rate: true },
    ],
    r.cohorts.filter((c) => c.open).map((c) => c.date),
  );
}

/** The days' cohorts that had entries, newest first; open ones marked. @param {Report} r */
function cohortTable(r) {
  /** @type {import('../dom.js').Column<Report['cohorts'][number]>[]} */
  const columns = [
    {
      label: t('date'),
      cell: (c) =>
        h(
          'span',
          {},
          shortDate(c.date),
          c.open
            ? h(
                'span',
                { className: 'chip open', title: t('windowOpenHelp'), testid: 'cohort-open' },
                t('windowOpen'),
              )
            : null,
        ),
    },
    { label: t('entered'), cell: (c) => int(c.entered), numeric: true },
    { label: t('converted'), cell: (c) => int(c.converted), numeric: true },
    { label: t('conversionRate'), cell: (c) => pct(c.conversionRate), numeric: true },
    { label: t('revenue'), cell: (c) => money(c.revenue), numeric: true },
    { label: t('holdoutEntered'), cell: (c) => int(c.holdoutEntered), numeric: true },
    { label: t('holdoutConverted'), cell: (c) => int(c.holdoutConverted), numeric: true },
  ];
  const rows = r.cohorts.filter((c) => c.entered > 0).reverse();
  const el = table('cohorts-table', columns, rows, 'cohort-row', (c) => c.date, t('noCohorts'));
  for (const tr of el.querySelectorAll('tr[data-testid="cohort-row"]'))
    if (rows.find((c) => c.date === tr.getAttribute('data-id'))?.open) tr.classList.add('open');
  return section(t('cohorts'), 'cohorts', el);
}

/**
 * Whether both groups are big enough for the uplift to mean something.
 * @param {import('../types').Group} a @param {import('../types').Group} b
 */
const enoughData = (a, b) =>
  [a, b].every((g) => g.entered >= MIN_GROUP_USERS && g.converted >= MIN_GROUP_CONVERSIONS);

/** @param {Report} r */
function upliftPanel(r) {
  const row = (/** @type {string} */ label, /** @type {import('../types').Group} */ g) =>
    h(
      'tr',
      {},
      h('th', {}, label),
      h('td', { className: 'num' }, int(g.entered)),
      h('td', { className: 'num' }, int(g.converted)),
      h('td', { className: 'num' }, pct(g.conversionRate)),
    );
  const groups = h(
    'table',
    { testid: 'groups-table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}),
        h('th', { className: 'num' }, t('entered')),
        h('th', { className: 'num' }, t('converted')),
        h('th', { className: 'num' }, t('conversionRate')),
      ),
    ),
    h('tbody', {}, row(t('treatment'), r.treatment), row(t('holdout'), r.holdout)),
  );
  const u = r.uplift;
  const rule = fill('notEnoughDataHelp', { users: MIN_GROUP_USERS, conversions: MIN_GROUP_CONVERSIONS });
  const enough = enoughData(r.treatment, r.holdout);
  /** @param {string} testid @param {string} value */
  const figure = (testid, value) =>
    enough
      ? h('dd', { testid }, value)
      : h('dd', { testid, className: 'muted', title: rule, 'data-insufficient': 'true' }, t('notEnoughData'));
  const figures = u
    ? h(
        'div',
        {},
        h(
          'dl',
          { className: 'figures' },
          h('dt', {}, t('uplift')),
          figure('uplift-absolute', points(u.absolute)),
          h('dt', {}, t('upliftRelative')),
          figure('uplift-relative', u.relative === null ? t('unknown') : pct(u.relative)),
          h('dt', {}, t('ci95')),
          figure('uplift-ci', `${points(u.ci95[0])} … ${points(u.ci95[1])}`),
        ),
        h('p', { className: 'muted note', testid: 'uplift-rule' }, rule),
      )
    : h('p', { className: 'muted', testid: 'uplift-none' }, t('noHoldout'));
  return section(t('uplift'), 'uplift', scroll(groups), figures);
}

/** The funnel's columns, for any row that has its fields. */
const funnelColumns = () =>
  /** @type {import('../dom.js').Column<Funnel>[]} */ ([
    { label: t('sent'), cell: (r) => int(r.sent), numeric: true },
    { label: t('delivered'), cell: (r) => int(r.delivered), numeric: true },
    { label: t('clicked'), cell: (r) => int(r.clicked), numeric: true },
    { label: t('converted'), cell: (r) => int(r.converted), numeric: true },
    { label: t('revenue'), cell: (r) => money(r.revenue), numeric: true },
  ]);

/** @param {Report} r */
function breakdowns(r) {
  /** @type {import('../dom.js').Column<Report['steps'][number]>[]} */
  const steps = [
    { label: t('version'), cell: (s) => s.version, numeric: true },
    { label: t('step'), cell: (s) => s.step },
    { label: t('type'), cell: (s) => term('stepType', s.type) },
    { label: t('reached'), cell: (s) => int(s.reached), numeric: true },
    ...funnelColumns(),
    { label: t('skipped'), cell: (s) => int(s.skipped), numeric: true },
    { label: t('failed'), cell: (s) => int(s.failed), numeric: true },
  ];
  /** @type {import('../dom.js').Column<Report['channels'][number]>[]} */
  const channels = [{ label: t('channel'), cell: (c) => term('channel', c.channel) }, ...funnelColumns()];
  /** @type {import('../dom.js').Column<Report['variants'][number]>[]} */
  const variants = [
    { label: t('step'), cell: (v) => v.step },
    { label: t('template'), cell: (v) => v.template },
    ...funnelColumns(),
  ];
  /** @type {import('../dom.js').Column<Report['exits'][number]>[]} */
  const exits = [
    { label: t('version'), cell: (x) => x.version, numeric: true },
    { label: t('exitReason'), cell: (x) => term('reason', x.reason) },
    { label: t('users'), cell: (x) => int(x.count), numeric: true },
  ];
  /** @type {import('../dom.js').Column<Report['versions'][number]>[]} */
  const versions = [
    { label: t('version'), cell: (v) => v.version, numeric: true },
    { label: t('entered'), cell: (v) => int(v.entered), numeric: true },
    { label: t('sent'), cell: (v) => int(v.sent), numeric: true },
    { label: t('converted'), cell: (v) => int(v.converted), numeric: true },
    { label: t('conversionRate'), cell: (v) => pct(v.conversionRate), numeric: true },
    { label: t('revenue'), cell: (v) => money(v.revenue), numeric: true },
  ];
  return [
    section(
      t('steps'),
      'steps',
      table(
        'steps-table',
        steps,
        r.steps.some((s) => s.reached > 0) ? r.steps : [],
        'step-row',
        undefined,
        t('noStepReached'),
      ),
    ),
    h(
      'div',
      { className: 'grid' },
      section(
        t('channels'),
        'channels',
        table('channels-table', channels, r.channels, 'channel-row', undefined, t('noMessagesSent')),
      ),
      section(
        t('versions'),
        'versions',
        table('versions-table', versions, r.versions, 'version-row', undefined, t('noVersionFigures')),
      ),
    ),
    h(
      'div',
      { className: 'grid' },
      section(
        t('variants'),
        'variants',
        table('variants-table', variants, r.variants, 'variant-row', undefined, t('noMessagesSent')),
      ),
      section(t('exits'), 'exits', table('exits-table', exits, r.exits, 'exit-row', undefined, t('noExits'))),
    ),
  ];
}

/**
 * Some of the journey's users, linked to their pages. Loaded after the rest of the page: the API
 * scans the profiles for them.
 * @param {import('../types').Context} ctx
 * @param {string} path the journey's API path
 */
function users(ctx, path) {
  /** @type {import('../dom.js').Column<import('../types').JourneyEnrollments['enrollments'][number]>[]} */
  const columns = [
    {
      label: t('user'),
      cell: (e) => {
        const id = e.user.userId ?? e.user.anonymousId ?? '';
        return link(href({ page: 'user', id }, ctx.range), id, 'user-link');
      },
    },
    { label: t('version'), cell: (e) => e.version, numeric: true },
    { label: t('state'), cell: (e) => term('enrollmentState', e.state) },
    { label: t('step'), cell: (e) => e.step ?? t('unknown') },
    { label: t('holdout'), cell: (e) => (e.holdout ? t('yes') : t('no')) },
    { label: t('enteredAt'), cell: (e) => time(e.enteredAt, ctx.range.tz) },
    { label: t('exitReason'), cell: (e) => (e.exitReason ? term('reason', e.exitReason) : t('unknown')) },
  ];
  const body = h('p', { className: 'muted' }, t('loading'));
  /** @type {Promise<import('../types').JourneyEnrollments>} */
  const sample = get(`${path}/enrollments`, { limit: '20' });
  sample.then(
    (s) => {
      if (!ctx.stale())
        body.replaceWith(
          table(
            'enrollments-table',
            columns,
            s.enrollments.slice(0, 20),
            'enrollment-row',
            undefined,
            t('noEnrollments'),
          ),
        );
    },
    (error) => {
      if (!ctx.stale())
        body.replaceWith(
          h('p', { className: 'error' }, error instanceof Error ? error.message : String(error)),
        );
    },
  );
  return section(t('enrollmentsSample'), 'enrollments', body);
}

/**
 * @param {import('../types').Context} ctx
 * @param {string} id
 * @param {number} [version] that version's figures only; every version's when absent
 */
export async function journeyView(ctx, id, version) {
  const path = `v1/journeys/${encodeURIComponent(id)}`;
  /** @type {[import('../types').JourneyDefinition, Report]} */
  const [definition, report] = await Promise.all([
    get(path),
    get(`v1/reports/journeys/${encodeURIComponent(id)}`, { ...ctx.range, version: version?.toString() }),
  ]);
  // The map shows the chosen version, or the live one.
  const shown = version ?? definition.live?.version ?? report.journey.versions.at(-1) ?? 1;
  /** @type {import('../types').JourneyVersion} */
  const doc = definition.live?.version === shown ? definition.live : await get(`${path}/versions/${shown}`);
  if (ctx.stale()) return;

  const picker = h(
    'select',
    {
      testid: 'version-select',
      onchange: (e) => {
        const value = /** @type {HTMLSelectElement} */ (e.target).value;
        location.hash = href({ page: 'journey', id, version: value ? Number(value) : undefined }, ctx.range);
      },
    },
    h('option', { value: '' }, t('allVersions')),
    ...report.journey.versions.map((v) =>
      h('option', { value: String(v), selected: v === version }, `${t('version')} ${v}`),
    ),
  );
  const header = h(
    'section',
    { className: 'card head' },
    link(href({ page: 'journeys' }, ctx.range), `← ${t('back')}`, 'back-link'),
    h('h1', { testid: 'journey-title' }, report.journey.name),
    h('code', {}, report.journey.id),
    picker,
  );

  const trendEl = h('div', { className: 'chart', testid: 'trend-chart' });
  /** @type {'event' | 'cohort'} */
  let mode = 'event';
  const modeButton = (/** @type {'event' | 'cohort'} */ m, /** @type {string} */ label) =>
    h(
      'button',
      { type: 'button', testid: `trend-mode-${m}`, className: 'toggle', 'aria-pressed': String(m === mode) },
      label,
    );
  const modes = h(
    'div',
    { className: 'toggles' },
    modeButton('event', t('byEventDate')),
    modeButton('cohort', t('byEntryDate')),
  );
  const curveEl = h('div', { className: 'chart', testid: 'curve-chart' });
  const graph = journeyGraph(
    doc.document.steps,
    report.steps.filter((s) => s.version === shown),
    report.branches.filter((b) => b.version === shown),
  );
  const graphEl = h('div', {
    className: 'chart graph',
    testid: 'journey-graph',
    style: `height:${graph.height}px`,
  });

  ctx.root.replaceChildren(
    header,
    tiles(report),
    h(
      'div',
      { className: 'grid' },
      section(t('dailyTrend'), 'trend', modes, trendEl),
      section(t('curve'), 'curve', curveEl),
    ),
    upliftPanel(report),
    cohortTable(report),
    section(`${t('graph')} (${t('version')} ${shown})`, 'graph', graphEl),
    ...breakdowns(report),
    users(ctx, path),
  );
  const trend = mount(trendEl, trendOption(report, mode), trendEmpty(report, mode));
  modes.addEventListener('click', (e) => {
    const button = e.target instanceof HTMLElement ? e.target.closest('button') : null;
    if (!button?.dataset.testid) return;
    mode = button.dataset.testid === 'trend-mode-cohort' ? 'cohort' : 'event';
    for (const b of modes.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b === button));
    redraw(trend, trendEl, trendOption(report, mode), trendEmpty(report, mode));
  });
  mount(
    curveEl,
    conversionCurve(report.curve, report.holdout.entered > 0),
    report.treatment.entered > 0 ? null : t('noEntriesInRange'),
  );
  mount(graphEl, graph.option);
}
