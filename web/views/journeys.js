// @ts-check
/** Screen 1: every journey with its funnel and a sparkline of daily conversions, ranked by the API. */
import { get } from '../api.js';
import { mount, sparkline } from '../charts.js';
import { h, link, section, table } from '../dom.js';
import { int, money, pct } from '../format.js';
import { t } from '../i18n.js';
import { href } from '../route.js';
import { term } from '../terms.js';

/** @typedef {import('../types').JourneyList['journeys'][number]} Row */

/** @param {import('../types').Context} ctx */
export async function journeysView(ctx) {
  /** @type {import('../types').JourneyList} */
  const report = await get('v1/reports/journeys', { ...ctx.range });
  if (ctx.stale()) return;

  /** @type {[HTMLElement, number[]][]} */
  const sparks = [];
  /** @type {import('../dom.js').Column<Row>[]} */
  const columns = [
    {
      label: t('name'),
      cell: (j) => link(href({ page: 'journey', id: j.id }, ctx.range), j.name, 'journey-link'),
    },
    { label: t('state'), cell: (j) => term('journeyState', j.state) },
    { label: t('entered'), cell: (j) => int(j.entered), numeric: true },
    { label: t('sent'), cell: (j) => int(j.sent), numeric: true },
    { label: t('converted'), cell: (j) => int(j.converted), numeric: true },
    { label: t('conversionRate'), cell: (j) => pct(j.conversionRate), numeric: true },
    { label: t('revenue'), cell: (j) => money(j.revenue), numeric: true },
    {
      label: t('trend'),
      cell: (j) => {
        const el = h('div', { className: 'spark', testid: 'sparkline' });
        sparks.push([el, j.daily.map((d) => d.converted)]);
        return el;
      },
    },
  ];
  const rows = table('journey-table', columns, report.journeys, 'journey-row', (j) => j.id);
  ctx.root.replaceChildren(
    section(
      t('journeys'),
      'journey-list',
      report.journeys.length === 0
        ? h(
            'p',
            { className: 'muted empty', testid: 'journey-table', 'data-empty': 'true' },
            t('noJourneysPublished'),
          )
        : rows,
    ),
  );
  for (const [el, values] of sparks) mount(el, sparkline(values));
}
