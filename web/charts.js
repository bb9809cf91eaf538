// @ts-check
/**
 * ECharts (loaded as a classic script, `window.echarts`): the instances of the page on screen, and
 * the options of the console's line charts.
 */
import { t } from './i18n.js';

/** @typedef {import('echarts').EChartsOption} Option */

/** @type {Set<import('echarts').ECharts>} */
const mounted = new Set();

/**
 * Draws `option` in `el` (which must be in the document, with a size). When the first frame is drawn
 * the element gets `data-ready`, for tests.
 * @param {HTMLElement} el
 * @param {Option} option
 */
export function mount(el, option) {
  const chart = window.echarts.init(el);
  chart.on('finished', () => {
    el.dataset.ready = 'true';
  });
  chart.setOption(option);
  mounted.add(chart);
  return chart;
}

/** Before a page is replaced. */
export function disposeAll() {
  for (const chart of mounted) chart.dispose();
  mounted.clear();
}

addEventListener('resize', () => {
  for (const chart of mounted) chart.resize();
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
 * Lines over dates; series named by their labels.
 * @param {string[]} dates
 * @param {{ name: string, values: (number | null)[], rate?: boolean }[]} series `rate`: on the right axis, 0..1 (null: no one to count)
 */
export function daily(dates, series) {
  const rates = series.some((s) => s.rate);
  return /** @type {Option} */ ({
    tooltip: { trigger: 'axis' },
    legend: { top: 0 },
    grid: { left: 48, right: rates ? 56 : 24, top: 36, bottom: 32 },
    xAxis: { type: 'category', data: dates, boundaryGap: false },
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
    series: series.map((s) => ({
      type: 'line',
      name: s.name,
      data: s.values,
      yAxisIndex: s.rate ? 1 : 0,
      symbolSize: 4,
      ...(s.rate ? { lineStyle: { type: 'dashed' }, tooltip: { valueFormatter: rateTip } } : {}),
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
