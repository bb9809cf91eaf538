/**
 * The analyst console in a real browser (Debian's chromium through playwright-core) against
 * `tideline start` with the demo loaded: key form, journey list, journey page, user page, languages.
 * Full-page screenshots go to test/artifacts/.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { KEYS } from '../../dev/engine.ts';
import {
  chartOption,
  type Demo,
  NO_BROWSER,
  openConsole,
  read,
  screenshot,
  selector,
  startDemo,
} from './harness.ts';

const DAY = 86_400_000;

interface JourneyListReport {
  journeys: { id: string; entered: number }[];
}

interface BranchReport {
  branches: { step: string; path: string; count: number }[];
}

interface EnrollmentList {
  enrollments: { user: { userId: string | null }; log: { event: string }[] }[];
}

/** Days from `from` to `to` inclusive (YYYY-MM-DD). */
const daysBetween = (from: string, to: string) => (Date.parse(to) - Date.parse(from)) / DAY + 1;

describe('analyst console', { skip: NO_BROWSER, timeout: 90_000 }, () => {
  let demo: Demo | undefined;
  let page: Page;
  let url = '';
  let errors: string[] = [];

  before(async () => {
    demo = await startDemo();
    url = demo.url;
    // No key yet: the first test gives it through the form.
    ({ page, errors } = await openConsole(demo.browser, { lang: 'en', key: null }));
  });

  after(async () => {
    await demo?.close();
  });

  it('asks for the read key once, and refuses a wrong one', async () => {
    await page.goto(`${url}/console`);
    assert.match(page.url(), /\/console\/$/);
    await page.locator(selector('key-input')).fill('not-a-key');
    await page.locator(selector('key-submit')).click();
    await page.locator(selector('key-error')).waitFor();
    await page.locator(selector('key-input')).fill(KEYS.read);
    await page.locator(selector('key-submit')).click();
    await page.locator(selector('journey-row')).first().waitFor();
    // Kept in the browser: a reload goes straight to the journeys.
    await page.reload();
    await page.locator(selector('journey-row')).first().waitFor();
  });

  it('lists the journeys with their sparklines, over the last 30 days in the browser timezone', async () => {
    assert.equal(await page.locator(selector('range-tz')).inputValue(), 'Asia/Shanghai');
    const from = await page.locator(selector('range-from')).inputValue();
    const to = await page.locator(selector('range-to')).inputValue();
    assert.equal(daysBetween(from, to), 30);
    const rows = await page.locator(selector('journey-row')).count();
    const api = await read<JourneyListReport>(
      url,
      `/v1/reports/journeys?from=${from}&to=${to}&tz=Asia/Shanghai`,
    );
    assert.equal(rows, api.journeys.length);
    assert.deepEqual(
      await page
        .locator(selector('journey-row'))
        .evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-id'))),
      api.journeys.map((j) => j.id),
      'ranked as the API ranks them',
    );
    assert.equal(await page.locator(selector('sparkline')).count(), rows);
    const spark = await chartOption(page, 'sparkline', rows - 1);
    assert.equal(spark.series[0].type, 'line');
    assert.equal(spark.series[0].data.length, 30, 'a point per day');
    await screenshot(page, 'journeys');
  });

  it('shows a journey: trend, D0..D7 curve, uplift, map with counts, tables', async () => {
    await page.locator(selector('journey-link')).first().click();
    await page.locator(selector('journey-title')).waitFor();
    const id = decodeURIComponent(page.url().split('#/journeys/')[1].split('?')[0]);
    const from = await page.locator(selector('range-from')).inputValue();
    const to = await page.locator(selector('range-to')).inputValue();

    const trend = await chartOption(page, 'trend-chart');
    assert.equal(trend.xAxis[0].data?.length, daysBetween(from, to), 'a point per day of the range');
    assert.equal(trend.xAxis[0].data?.[0], from);
    assert.ok(trend.series.length >= 5);
    for (const series of trend.series) assert.equal(series.data.length, daysBetween(from, to));

    const curve = await chartOption(page, 'curve-chart');
    assert.ok(curve.series.length >= 1);
    for (const series of curve.series) assert.equal(series.data.length, 8, 'D0 to D7');
    await page.locator(selector('uplift')).waitFor();

    const definition = await read<{ live: { document: { steps: { id: string }[] } } }>(
      url,
      `/v1/journeys/${encodeURIComponent(id)}`,
    );
    const graph = (await chartOption(page, 'journey-graph')).series[0];
    assert.equal(graph.type, 'graph');
    const nodes = graph.data as { name: string; value: number }[];
    assert.deepEqual(
      nodes.map((n) => n.name),
      definition.live.document.steps.map((s) => s.id),
    );
    assert.ok(nodes.every((n) => typeof n.value === 'number'));
    assert.ok(
      nodes.some((n) => n.value > 0),
      'some step was reached',
    );
    assert.ok((graph.links ?? []).length > 0);

    assert.ok((await page.locator(selector('step-row')).count()) > 0);
    await page.locator(selector('channels-table')).waitFor();
    await page.locator(selector('versions-table')).waitFor();
    await page.locator(selector('variants-table')).waitFor();
    await screenshot(page, 'journey');

    // The same days by entry cohort.
    await page.locator(selector('trend-mode-cohort')).click();
    const cohort = await chartOption(page, 'trend-chart');
    assert.equal(cohort.xAxis[0].data?.length, daysBetween(from, to));
    for (const series of cohort.series) assert.equal(series.data.length, daysBetween(from, to));
  });

  it('counts each path of a branch on the map', async () => {
    // The poster follow-up branches on whether the user follows the Official Account.
    const id = 'qr_follow_up';
    await page.locator(selector('back-link')).click();
    await page.locator(`${selector('journey-row')}[data-id="${id}"] a`).click();
    await page.locator(`${selector('journey-title')}:text-is("11.11 poster follow-up")`).waitFor();
    const query = page.url().split('?')[1];
    const report = await read<BranchReport>(url, `/v1/reports/journeys/${id}?${query}`);
    const graph = (await chartOption(page, 'journey-graph')).series[0];
    const paths = (graph.links ?? []).filter((l) => l.source === 'follows');
    assert.deepEqual(
      paths.map((l) => [l.target, l.value]),
      [
        ['poster_wechat', report.branches.find((b) => b.step === 'follows' && b.path === '0')?.count ?? 0],
        ['done', report.branches.find((b) => b.step === 'follows' && b.path === 'else')?.count ?? 0],
      ],
    );
    assert.ok(
      report.branches.some((b) => b.count > 0),
      'the demo took a path',
    );

    // From the sample of its users to a user's page.
    await page.locator(selector('user-link')).first().click();
    await page.locator(selector('user-profile')).waitFor();
  });

  it('looks up a user: profile, tags, lifecycle, journeys and messages', async () => {
    // A user a demo journey sent a message to, who carries tags (tag rules, segment tags).
    let user: string | undefined;
    for (const journey of [
      'cart_abandonment',
      'browse_abandonment',
      'qr_follow_up',
      'welcome_series',
      'win_back',
    ]) {
      const { enrollments } = await read<EnrollmentList>(
        url,
        `/v1/journeys/${journey}/enrollments?limit=200`,
      );
      for (const e of enrollments) {
        if (!e.user.userId || !e.log.some((l) => l.event === 'message_sent')) continue;
        const { profile } = await read<{ profile: { tags: string[] } }>(url, `/v1/users/${e.user.userId}`);
        if (profile.tags.length === 0) continue;
        user = e.user.userId;
        break;
      }
      if (user) break;
    }
    assert.ok(user, 'the demo has a tagged user with a message');

    await page.locator(selector('user-search')).fill(user);
    await page.locator(selector('user-search')).press('Enter');
    await page.locator(`${selector('user-id')}:text-is("${user}")`).waitFor();
    assert.ok((await page.locator(selector('tag')).count()) > 0, 'tags shown');
    assert.ok((await page.locator(selector('trait-row')).count()) > 0, 'traits shown');
    assert.ok((await page.locator(selector('lifecycle-row')).count()) > 0, 'lifecycle history shown');
    assert.ok((await page.locator(selector('user-journey')).count()) > 0, 'journeys shown');
    assert.ok((await page.locator(selector('message-row')).count()) > 0, 'messages shown');
    await screenshot(page, 'user');

    await page.locator(selector('lang-zh')).click();
    await page.locator(`${selector('user-profile')} h2:text-is("用户画像")`).waitFor();
    await screenshot(page, 'user-zh');
    await page.locator(selector('lang-en')).click();
    await page.locator(`${selector('user-profile')} h2:text-is("Profile")`).waitFor();
  });

  it('speaks the browser language by default', async () => {
    const context = await demo!.browser.newContext({ locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    await context.addInitScript(
      `localStorage.setItem('tideline.console.readKey', ${JSON.stringify(KEYS.read)})`,
    );
    const zh = await context.newPage();
    await zh.goto(`${url}/console/`);
    await zh.locator(`${selector('home')}:text-is("Tideline 分析台")`).waitFor();
    await zh.locator(`${selector('journey-list')} h2:text-is("旅程")`).waitFor();
    assert.equal(await zh.getAttribute('html', 'lang'), 'zh-CN');
    await context.close();
  });

  it('raised no error in the page', () => {
    assert.deepEqual(errors, []);
  });
});
