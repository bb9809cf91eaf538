/**
 * What the console's browser tests share: the demo engine (`tideline start` on a fresh data
 * folder, waited for until its reports settle), Debian's chromium through playwright-core, a page
 * opened with a key, a language and a screen width, chart options, screenshots under
 * test/artifacts/, and the checks every screen passes in both languages (no sideways scrolling of
 * the page; in Chinese, no English word of the engine's vocabulary left on screen).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { KEYS, waitFor } from '../../dev/engine.ts';
import { spawnTideline } from '../../dev/processes.ts';
import { CHROMIUM, NO_BROWSER } from '../browser.ts';
// @ts-expect-error: the console's plain JavaScript has no declaration file for the root project.
import { DICT } from '../../web/i18n.js';
// @ts-expect-error: as above.
import { TERMS } from '../../web/terms.js';

export { CHROMIUM, NO_BROWSER };
export const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));

export const LANGUAGES = ['en', 'zh'] as const;
export type Lang = (typeof LANGUAGES)[number];
/** The console's labels in each language (web/i18n.js). */
export const LABELS = DICT as Record<Lang, Record<string, string>>;
/** The API's values in each language (web/terms.js). */
export const WORDS = TERMS as Record<Lang, Record<string, Record<string, string>>>;

export const selector = (testid: string) => `[data-testid="${testid}"]`;

/** The parts of an ECharts option the tests read. */
export interface ChartOption {
  xAxis: { data?: string[] }[];
  series: {
    type: string;
    name?: string;
    data: (number | null | { name: string; value: number })[];
    links?: { source: string; target: string; value?: number }[];
    markArea?: { data: [{ xAxis: string; name?: string }, { xAxis: string }][] };
  }[];
}

export async function read<T>(url: string, path: string, key: string = KEYS.read): Promise<T> {
  const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(res.status, 200, `GET ${path}`);
  return (await res.json()) as T;
}

export interface Demo {
  url: string;
  browser: Browser;
  close(): Promise<void>;
}

/** `tideline start` with the demo on a fresh data folder, and chromium, once the reports settle. */
export async function startDemo(): Promise<Demo> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), 'tideline-console-'));
  const engine = spawnTideline('start', { TIDELINE_DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
  const [url, browser] = await Promise.all([
    engine.url,
    chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    }),
  ]);
  // The demo loads in the background: wait until the reports count its journeys, then until they
  // stop moving (pages and the API are compared).
  let last = '';
  await waitFor(
    async () => {
      const list = await read<{ journeys: { entered: number }[] }>(
        url,
        '/v1/reports/journeys?tz=Asia/Shanghai',
      );
      const now = JSON.stringify(list);
      const settled = now === last && list.journeys.some((j) => j.entered > 0);
      last = now;
      if (!settled) await new Promise((r) => setTimeout(r, 500));
      return settled;
    },
    60_000,
    'the demo journeys in the reports, settled',
  );
  return {
    url,
    browser,
    async close() {
      await browser.close();
      await engine.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ConsolePage {
  page: Page;
  context: BrowserContext;
  /** Script errors and console errors the page raised (a rejected key's 401/403 aside). */
  errors: string[];
}

/**
 * A browser page with the key and the language already chosen (as a returning user has them), at a
 * screen `width` (a phone: 390), in Shanghai time. Opens nothing: go to `${url}/console/#/…`.
 */
export async function openConsole(
  browser: Browser,
  options: { lang: Lang; width?: number; height?: number; key?: string | null },
): Promise<ConsolePage> {
  const { lang, width = 1440, height = 900, key = KEYS.read } = options;
  const context = await browser.newContext({
    viewport: { width, height },
    locale: lang === 'zh' ? 'zh-CN' : 'en-US',
    timezoneId: 'Asia/Shanghai',
  });
  // Only when not set yet: a choice the test makes in the page (language, key) survives a reload.
  const keep = (name: string, value: string) =>
    `if (localStorage.getItem('${name}') === null) localStorage.setItem('${name}', ${JSON.stringify(value)});`;
  await context.addInitScript(
    [keep('tideline.console.lang', lang), key ? keep('tideline.console.readKey', key) : ''].join('\n'),
  );
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/status of 40[13]/.test(message.text())) errors.push(message.text());
  });
  return { page, context, errors };
}

/** The option of the chart drawn in the `nth` element with that test id, once it has drawn. */
export async function chartOption(page: Page, testid: string, nth = 0): Promise<ChartOption> {
  await page.locator(selector(testid)).nth(nth).and(page.locator('[data-ready]')).waitFor();
  // A string, not a function: the tests are compiled without the DOM library.
  return page.evaluate<ChartOption>(`(() => {
    const el = document.querySelectorAll(${JSON.stringify(selector(testid))})[${nth}];
    const option = window.echarts.getInstanceByDom(el).getOption();
    return JSON.parse(JSON.stringify(option, (k, v) => (typeof v === 'function' ? undefined : v)));
  })()`);
}

/** The drawn width of every chart on the page, px. */
export const chartWidths = (page: Page) =>
  page.evaluate<number[]>(`[...document.querySelectorAll('[data-ready]')]
    .map((el) => window.echarts.getInstanceByDom(el)?.getWidth() ?? 0)`);

export const screenshot = (page: Page, name: string) =>
  page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

/** The page's full width: more than the screen means the page scrolls sideways. */
export const pageWidth = (page: Page) => page.evaluate<number>('document.scrollingElement.scrollWidth');

/**
 * The words of the engine's vocabulary (states, statuses, reasons, lifecycle stages, their raw
 * values such as `no_consent` or `waitFor`) and the console's own headings, as they read in
 * English: none may be left on a Chinese screen. Words that are also common names in the demo's
 * data (step ids, event names) are left out.
 */
export function englishWords(): RegExp {
  const kinds = ['journeyState', 'enrollmentState', 'lifecycle', 'reason', 'messageStatus'];
  const words = new Set<string>();
  for (const kind of kinds)
    for (const [value, english] of Object.entries(WORDS.en[kind])) {
      words.add(english);
      if (/[_A-Z]/.test(value)) words.add(value);
    }
  words.add('waitFor');
  for (const label of ['entered', 'converted', 'revenue', 'conversionRate', 'uplift', 'steps', 'holdout'])
    words.add(LABELS.en[label]);
  for (const common of ['event', 'completed', 'skipped', 'failed', 'sent', 'new']) words.delete(common);
  const escaped = [...words]
    .sort((a, b) => b.length - a.length)
    .map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`(?<![\\w-])(${escaped.join('|')})(?![\\w-])`);
}

/**
 * The console's own words on the page: visible text, without what is the workspace's data (journey
 * names and user ids, which are links or titles, ids in code) nor the charts' canvases.
 */
export const visibleText = (page: Page) =>
  page.evaluate<string>(`(() => {
    const words = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (!el || el.closest('a, code, h1, script, style, [hidden]') || !el.checkVisibility()) continue;
      words.push(node.textContent);
    }
    return words.join('\\n');
  })()`);
