// @ts-check
/**
 * ECharts (loaded as a classic script, `window.echarts`): the instances of the page on screen, and
 * the options of the console's line charts.
 */
import { locale, t } from './i18n.js';

/** @typedef {import('echarts').EChartsOption} Option */

/** @type {Set<import('echarts').ECharts>} */
const mounted = new Set();

/** Charts follow their element's size (a narrow screen, a grid that wraps, a turned phone). */
const resizer = new ResizeObserver((entries) => {
  for (const entry of entries)
    window.echarts.getInstanceByDom(/** @type {HTMLElement} */ (entry.target))?.resize();
});

/**
 * Draws `option` in `el` (which must be in the document, with a size). When the first frame is drawn
 * the element gets `data-ready`, for tests. With an `empty` text (why there is nothing to draw), the
 * text is written across the chart and the element gets `data-empty`.
 * @param {HTMLElement} el
 * @param {Option} option
 * @param {string | null} [empty]
 */
export function mount(el, option, empty = null) {
  const chart = window.echarts.init(el);
  chart.on('finished', () => {
    el.dataset.ready = 'true';
  });
  chart.setOption(withNote(option, empty));
  noted(el, empty);
  mounted.add(chart);
  resizer.observe(el);
  return chart;
}

/**
 * Draws a new option in a mounted chart (another mode of the same chart).
 * @param {import('echarts').ECharts} chart
 * @param {HTMLElement} el
 * @param {Option} option
 * @param {string | null} [empty]
 */
export function redraw(chart, el, option, empty = null) {
  chart.setOption(withNote(option, empty), { notMerge: true });
  noted(el, empty);
}

/** @param {Option} option @param {string | null} empty */
const withNote = (option, empty) =>
  empty
    ? /** @type {Option} */ ({
        ...option,
        graphic: {
          type: 'text',
          left: 'center',
          top: 'middle',
          style: {
            text: empty,
            fill: '#6b7588',
            fontSize: 13,
            width: 260,
            overflow: 'break',
            align: 'center',
          },
        },
      })
    : option;

/** @param {HTMLElement} el @param {string | null} empty */
function noted(el, empty) {
  if (empty) {
    el.dataset.empty = 'true';
    el.setAttribute('aria-label', empty);
  } else {
    delete el.dataset.empty;
    el.removeAttribute('aria-label');
  }
}

/** Before a page is replaced. */
export function disposeAll() {
  for (const chart of mounted) chart.dispose();
  mounted.clear();
  resizer.disconnect();
}

/** A YYYY-MM-DD date as a short date of the chosen language ("Dec 7", "12月7日"). @param {string} date */
export const shortDate = (date) =>
  new Date(`${date}T00:00:00Z`).toLocaleDateString(locale(), {
    month: 'short',
    day: 'numeric',
    timeZone: 'UTC',
  });

/** An axis label for a rate: 0.125 reads 12.5%. @param {number} v */
const percent = (v) => `${+(v * 100).toFixed(1)}%`;

/** A rate in a tooltip. @param {unknown} v */
const rateTip = (v) => (typeof v === 'number' ? percent(v) : '—');

/** A tiny line with no axes. @param {number[]} values */
export const sparkline = (values) =>
  /** @type {Option} */ ({
    animation: false,
    grid: { left: 2, right: 2, top: 4, bottom: 4 },
    xAxis: { type: 'category', show: false, data: values.map((_, i) => i) },
    yAxis: { type: 'value', show: false, min: 0 },
    series: [
      {
        type: 'line',
        data: values,
        showSymbol: false,
        lineStyle: { width: 1.5 },
        areaStyle: { opacity: 0.15 },
      },
    ],
  });

/**
 * Lines over dates; series named by their labels. `open`: the dates whose figures can still grow
 * (cohorts whose conversion window is open), shaded and labelled.
 * @param {string[]} dates
 * @param {{ name: string, values: (number | null)[], rate?: boolean }[]} series `rate`: on the right axis, 0..1 (null: no one to count)
 * @param {string[]} [open]
 */
export function daily(dates, series, open = []) {
  const shade = open.length
    ? {
        silent: true,
        itemStyle: { color: 'rgba(47, 111, 237, 0.08)' },
        label: { position: 'insideTop', color: '#2f6fed', fontSize: 11 },
        data: [[{ name: t('windowOpen'), xAxis: open[0] }, { xAxis: open[open.length - 1] }]],
      }
    : undefined;
  const rates = series.some((s) => s.rate);
  return /** @type {Option} */ ({
    tooltip: { trigger: 'axis' },
    legend: { top: 0 },
    grid: { left: 48, right: rates ? 56 : 24, top: 36, bottom: 32 },
    xAxis: {
      type: 'category',
      data: dates,
      boundaryGap: false,
      axisLabel: { formatter: shortDate },
      // The tooltip's heading too.
      axisPointer: {
        label: { formatter: (/** @type {{ value: unknown }} */ p) => shortDate(String(p.value)) },
      },
    },
    yAxis: [
      { type: 'value', minInterval: 1 },
      ...(rates
        ? [
            {
              type: 'value',
              min: 0,
              axisLabel: { formatter: percent },
            },
          ]
        : []),
    ],
    series: series.map((s, i) => ({
      type: 'line',
      name: s.name,
      data: s.values,
      yAxisIndex: s.rate ? 1 : 0,
      symbolSize: 4,
      ...(s.rate ? { lineStyle: { type: 'dashed' }, tooltip: { valueFormatter: rateTip } } : {}),
      ...(i === 0 && shade ? { markArea: shade } : {}),
    })),
  });
}

/**
 * The D0..D7 cumulative conversion rates of treatment and, if it had users, holdout.
 * @param {import('./types').JourneyReport['curve']} curve
 * @param {boolean} withHoldout
 */
export const conversionCurve = (curve, withHoldout) =>
  /** @type {Option} */ ({
    tooltip: {
      trigger: 'axis',
      valueFormatter: rateTip,
    },
    legend: { top: 0 },
    grid: { left: 48, right: 24, top: 36, bottom: 32 },
    xAxis: { type: 'category', data: curve.treatment.map((p) => `D${p.day}`) },
    yAxis: {
      type: 'value',
      min: 0,
      axisLabel: { formatter: percent },
    },
    series: [
      { type: 'line', name: t('treatment'), data: curve.treatment.map((p) => p.rate) },
      ...(withHoldout
        ? [
            {
              type: 'line',
              name: t('holdout'),
              data: curve.holdout.map((p) => p.rate),
              lineStyle: { type: 'dashed' },
            },
          ]
        : []),
    ],
  });
