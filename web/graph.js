// @ts-check
/**
 * A journey version's steps as an ECharts `graph`: nodes top-down in step order, one edge per
 * successor (next, branch, else, split path, onEvent, onTimeout), with the report's counts.
 */
import { int } from './format.js';
import { t } from './i18n.js';
import { term } from './terms.js';

/**
 * The parts of a step document the map reads (journeys/journey.ts has the full format).
 * @typedef {{
 *   id: string, type: string, next?: string, onEvent?: string, onTimeout?: string, else?: string,
 *   branches?: { next: string }[], paths?: { next: string, name?: string }[]
 * }} StepDoc
 */
/** @typedef {{ step: string, reached: number }} StepCount */
/** @typedef {{ step: string, path: string, count: number }} BranchCount */
/** @typedef {{ source: string, target: string, path: string | null, label: string }} Edge */

const ROW = 110;
/** Node width; nodes are 40 high. */
const WIDTH = 150;
const LANE = 210;

/**
 * A step's successors. `path` is the key of the report's branch counts (branch index, `else`, split
 * path name; `event` and `timeout` for waitFor), null for a plain `next`.
 * @param {StepDoc[]} steps
 * @returns {Edge[]}
 */
export function edgesOf(steps) {
  /** @type {Edge[]} */
  const edges = [];
  steps.forEach((step, i) => {
    const following = steps[i + 1]?.id;
    /** @param {string | undefined} target @param {string | null} path @param {string} label */
    const add = (target, path, label) => {
      if (target) edges.push({ source: step.id, target, path, label });
    };
    switch (step.type) {
      case 'exit':
        break;
      case 'branch':
        (step.branches ?? []).forEach((b, k) => add(b.next, String(k), `#${k + 1}`));
        add(step.else ?? following, 'else', t('else'));
        break;
      case 'split':
        (step.paths ?? []).forEach((p, k) => add(p.next, p.name ?? String(k), p.name ?? `#${k + 1}`));
        break;
      case 'waitFor':
        add(step.onEvent ?? following, 'event', t('onEvent'));
        add(step.onTimeout ?? following, 'timeout', t('onTimeout'));
        break;
      default:
        add(step.next ?? following, null, '');
    }
  });
  return edges;
}

/**
 * Columns: a step reached from the step above it stays in its column; a step reached only by a jump
 * (a branch, a split path, onEvent) goes one column right of where it is first jumped to from, one
 * more for each other jump of that step (so the paths of a branch sit side by side).
 * @param {StepDoc[]} steps
 * @param {Edge[]} edges
 */
function lanes(steps, edges) {
  const row = new Map(steps.map((s, i) => [s.id, i]));
  /** @type {Map<string, number>} */
  const lane = new Map();
  steps.forEach((step, i) => {
    const above = steps[i - 1]?.id;
    if (above && edges.some((e) => e.source === above && e.target === step.id)) {
      lane.set(step.id, lane.get(above) ?? 0);
      return;
    }
    const jump = edges.find((e) => e.target === step.id && (row.get(e.source) ?? i) < i);
    if (!jump) {
      lane.set(step.id, 0);
      return;
    }
    // The jumps of that step: its edges to anything but the step right below it, in order.
    const jumps = edges.filter(
      (e) => e.source === jump.source && row.get(e.target) !== (row.get(e.source) ?? 0) + 1,
    );
    lane.set(step.id, (lane.get(jump.source) ?? 0) + 1 + jumps.indexOf(jump));
  });
  return lane;
}

/**
 * @param {StepDoc[]} steps
 * @param {StepCount[]} counts this version's step counts
 * @param {BranchCount[]} branches this version's branch counts
 * @returns {{ option: import('echarts').EChartsOption, height: number }}
 */
export function journeyGraph(steps, counts, branches) {
  const edges = edgesOf(steps);
  const lane = lanes(steps, edges);
  const row = new Map(steps.map((s, i) => [s.id, i]));
  const kind = new Map(steps.map((s) => [s.id, s.type]));
  const reached = new Map(counts.map((c) => [c.step, c.reached]));
  const types = [...new Set(steps.map((s) => s.type))];
  const nodes = steps.map((s, i) => ({
    id: s.id,
    name: s.id,
    value: reached.get(s.id) ?? 0,
    category: types.indexOf(s.type),
    x: (lane.get(s.id) ?? 0) * LANE,
    y: i * ROW,
    label: {
      formatter: `{b|${s.id}}\n${term('stepType', s.type)} · ${int(reached.get(s.id) ?? 0)} ${t('reached')}`,
    },
  }));
  /** @type {Map<string, number>} */
  const seen = new Map();
  const links = edges.map((e) => {
    // Two edges between the same steps (waitFor's onEvent and onTimeout both falling through) bend apart.
    const pair = `${e.source}>${e.target}`;
    const twin = seen.get(pair) ?? 0;
    seen.set(pair, twin + 1);
    const rows = (row.get(e.target) ?? 0) - (row.get(e.source) ?? 0);
    // An edge past other steps of its column bows out far enough to clear them (a quadratic curve
    // peaks at half its curveness times its length); a jump to another column bends a little, away
    // from the steps of the target's column it would cross.
    const sameLane = lane.get(e.source) === lane.get(e.target);
    const passed = steps
      .slice(
        Math.min(row.get(e.source) ?? 0, row.get(e.target) ?? 0) + 1,
        Math.max(row.get(e.source) ?? 0, row.get(e.target) ?? 0),
      )
      .some((s) => lane.get(s.id) === lane.get(e.target));
    const bow =
      rows === 1 ? 0 : sameLane ? Math.min(1.2, (2.4 * WIDTH) / (Math.abs(rows) * ROW)) : passed ? -0.2 : 0.2;
    // Branch and split paths are counted (no row: nobody took it); waitFor outcomes only if the report has them.
    const counted =
      e.path !== null && (kind.get(e.source) !== 'waitFor' || branches.some((b) => b.step === e.source));
    const count = counted
      ? (branches.find((b) => b.step === e.source && b.path === e.path)?.count ?? 0)
      : undefined;
    return {
      source: e.source,
      target: e.target,
      value: count,
      lineStyle: { curveness: bow + twin * 0.3 },
      label: {
        show: e.path !== null,
        formatter: count === undefined ? e.label : `${e.label} · ${int(count)}`,
      },
    };
  });
  return {
    height: Math.max(200, steps.length * ROW + 40),
    option: {
      tooltip: {},
      legend: { data: types.map((type) => term('stepType', type)), top: 0 },
      series: [
        {
          type: 'graph',
          layout: 'none',
          // One scale for both axes, so that the map keeps the shape it was laid out in.
          preserveAspect: true,
          roam: true,
          top: 40,
          bottom: 30,
          left: 90,
          right: 90,
          symbol: 'roundRect',
          symbolSize: [WIDTH, 40],
          edgeSymbol: ['none', 'arrow'],
          edgeSymbolSize: 8,
          categories: types.map((type) => ({ name: term('stepType', type) })),
          label: {
            show: true,
            color: '#fff',
            lineHeight: 16,
            rich: { b: { fontWeight: 'bold', color: '#fff', lineHeight: 16 } },
          },
          // At the arrow's tip, level (a label along a short vertical edge would be turned sideways).
          edgeLabel: {
            position: 'end',
            fontSize: 11,
            color: '#333',
            backgroundColor: '#fff',
            padding: [1, 3],
          },
          lineStyle: { color: '#8a94a6', width: 1.5, opacity: 0.9 },
          data: nodes,
          links,
        },
      ],
    },
  };
}
