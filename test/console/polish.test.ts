/**
 * The console as a marketer reads it on a phone (390 px wide), in English and in Chinese, against
 * `tideline start` with the demo: no screen scrolls sideways (tables scroll in their own box, charts
 * fit), every status, step type, reason and heading is in the chosen language, cohorts whose goal
 * window is still open are marked in the chart and the table, the uplift says "not enough data"
 * below the stated sample size, empty charts and tables say why, and a key without the read scope
 * is told so. Screenshots at 390 px go to test/artifacts/.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { KEYS, waitFor } from '../../dev/engine.ts';
import {
  chartOption,
  chartWidths,
  type Demo,
  englishWords,
  LABELS,
  LANGUAGES,
  NO_BROWSER,
  openConsole,
  pageWidth,
  read,
  screenshot,
  selector,
  startDemo,
  visibleText,
  WORDS,
} from './harness.ts';

const PHONE = 390;
// The rule the console states next to the uplift (web/views/journey.js).
const MIN_USERS = 30;
const MIN_CONVERSIONS = 5;

interface Group {
  entered: number;
  converted: number;
}
interface Report {
  range: { from: string; to: string; tz: string };
  treatment: Group;
  holdout: Group;
  uplift: unknown;
  cohorts: { date: string; entered: number; open: boolean }[];
  steps: { type: string; reached: number }[];
}

/**
 * The demo's journeys enter users only on its last day, none in a holdout: publish one that holds out
 * half its users and let 40 users enter it, none converting (the "0 of 23 against 0 of 17" case).
 */
async function publishHeldOutJourney(url: string): Promise<{ id: string; report: Report }> {
  const id = 'coupon_probe';
  const call = async (path: string, key: string, body: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.ok(res.ok, `POST ${path}: ${res.status} ${await res.text()}`);
  };
  await call('/v1/journeys', KEYS.admin, {
    id,
    name: 'Coupon probe',
    trigger: { type: 'event', event: 'coupon_viewed' },
    holdout: { percent: 50 },
    goal: { event: 'order_paid' },
    steps: [{ id: 'mark', type: 'tag', add: ['coupon_seen'] }],
  });
  await call(`/v1/journeys/${id}/versions/1/publish`, KEYS.admin, {});
  const users = 40;
  await call('/v1/batch', KEYS.write, {
    batch: Array.from({ length: users }, (_, i) => ({
      type: 'track',
      userId: `probe-${i}`,
      event: 'coupon_viewed',
    })),
  });
  let report: Report | undefined;
  await waitFor(
    async () => {
      report = await read<Report>(url, `/v1/reports/journeys/${id}?tz=Asia/Shanghai`);
      return report.treatment.entered + report.holdout.entered === users;
    },
    30_000,
    'the probe journey entered',
  );
  return { id, report: report as Report };
}

describe('the console on a phone, in English and Chinese', { skip: NO_BROWSER, timeout: 240_000 }, () => {
  let demo: Demo;
  let range = '';
  /** A demo journey with entries in its still-open cohorts, and its report. */
  let openJourney: { id: string; report: Report };
  /** A journey with a holdout and few users (published by the test), and its report. */
  let heldOut: { id: string; report: Report };
  let user = '';

  before(async () => {
    demo = await startDemo();
    const list = await read<{ range: Report['range']; journeys: { id: string }[] }>(
      demo.url,
      '/v1/reports/journeys?tz=Asia/Shanghai',
    );
    range = new URLSearchParams(list.range).toString();
    const reports = await Promise.all(
      list.journeys.map(async (j) => ({
        id: j.id,
        report: await read<Report>(demo.url, `/v1/reports/journeys/${j.id}?${range}`),
      })),
    );
    const open = reports.find((r) => r.report.cohorts.some((c) => c.open && c.entered > 0));
    assert.ok(open, "the demo's last days are open cohorts with entries");
    openJourney = open;
    heldOut = await publishHeldOutJourney(demo.url);
    const { enrollments } = await read<{ enrollments: { user: { userId: string | null } }[] }>(
      demo.url,
      `/v1/journeys/${openJourney.id}/enrollments?limit=20`,
    );
    user = enrollments.find((e) => e.user.userId)?.user.userId ?? '';
    assert.ok(user, 'the journey has a known user');
  });

  after(async () => {
    await demo?.close();
  });

  for (const lang of LANGUAGES) {
    describe(lang === 'zh' ? 'in Chinese' : 'in English', () => {
      let page: Page;
      let errors: string[];
      const label = (name: string) => LABELS[lang][name];
      const english = englishWords();

      before(async () => {
        ({ page, errors } = await openConsole(demo.browser, { lang, width: PHONE, height: 844 }));
      });

      /** The screen fits the phone, its charts too, and (in Chinese) shows no English status word. */
      async function checkScreen(name: string) {
        assert.ok((await pageWidth(page)) <= PHONE, `${name}: the page does not scroll sideways`);
        for (const width of await chartWidths(page)) assert.ok(width <= PHONE, `${name}: a chart fits`);
        if (lang === 'zh') {
          const found = (await visibleText(page)).match(english);
          assert.equal(found?.[0], undefined, `${name}: English left on the Chinese screen`);
        }
        await screenshot(page, `phone-${lang}-${name}`);
      }

      it('lists the journeys with their states in the language', async () => {
        await page.goto(`${demo.url}/console/#/?${range}`);
        await page.locator(selector('journey-row')).first().waitFor();
        await chartOption(page, 'sparkline');
        const states = await page
          .locator(`${selector('journey-row')} td:nth-child(2)`)
          .evaluateAll((tds) => tds.map((td) => td.textContent));
        assert.ok(states.length > 0);
        const known = Object.values(WORDS[lang].journeyState);
        for (const state of states) assert.ok(known.includes(state ?? ''), `state '${state}' is translated`);
        await checkScreen('journeys');
      });

      it('marks the cohorts whose goal window is still open, in the chart and the table', async () => {
        const { id, report } = openJourney;
        await page.goto(`${demo.url}/console/#/journeys/${id}?${range}`);
        await page.locator(selector('journey-title')).waitFor();
        await chartOption(page, 'journey-graph');
        await checkScreen('journey');

        const rows = page.locator(selector('cohort-row'));
        const shown = await rows.evaluateAll((trs) =>
          trs.map((tr) => [
            tr.getAttribute('data-id'),
            tr.querySelector('[data-testid="cohort-open"]')?.textContent ?? null,
          ]),
        );
        const withEntries = report.cohorts.filter((c) => c.entered > 0).reverse();
        assert.deepEqual(
          shown,
          withEntries.map((c) => [c.date, c.open ? label('windowOpen') : null]),
          'a row per day with entries, newest first, the open ones marked',
        );

        await page.locator(selector('trend-mode-cohort')).click();
        const open = report.cohorts.filter((c) => c.open).map((c) => c.date);
        await page.waitForFunction(`(() => {
          const el = document.querySelector('[data-testid="trend-chart"]');
          return (window.echarts.getInstanceByDom(el).getOption().series[0].markArea?.data ?? []).length > 0;
        })()`);
        const trend = await chartOption(page, 'trend-chart');
        const [shade] = trend.series[0].markArea?.data ?? [];
        assert.deepEqual(
          [shade[0].xAxis, shade[1].xAxis, shade[0].name],
          [open[0], open.at(-1), label('windowOpen')],
          'the open days are shaded and named',
        );
      });

      it('says "not enough data" for an uplift below the stated sample size', async () => {
        const { id, report } = heldOut;
        await page.goto(`${demo.url}/console/#/journeys/${id}?tz=Asia/Shanghai`);
        await page.locator(selector('uplift')).waitFor();
        assert.notEqual(report.uplift, null);
        const enough = [report.treatment, report.holdout].every(
          (g) => g.entered >= MIN_USERS && g.converted >= MIN_CONVERSIONS,
        );
        const ci = page.locator(selector('uplift-ci'));
        const rule = await page.locator(selector('uplift-rule')).textContent();
        assert.ok(
          rule?.includes(String(MIN_USERS)) && rule.includes(String(MIN_CONVERSIONS)),
          'the rule is stated',
        );
        if (enough) assert.match((await ci.textContent()) ?? '', new RegExp(label('percentPoints')));
        else {
          assert.equal(await ci.textContent(), label('notEnoughData'));
          assert.equal(await ci.getAttribute('title'), rule, 'the tooltip states the rule');
          assert.equal(await page.locator(selector('uplift-absolute')).textContent(), label('notEnoughData'));
        }
        await checkScreen('uplift');
      });

      it('says why a journey has nothing to show in an empty range', async () => {
        const { id } = openJourney;
        await page.goto(
          `${demo.url}/console/#/journeys/${id}?from=2020-01-01&to=2020-01-07&tz=Asia/Shanghai`,
        );
        await page.locator(`${selector('trend-chart')}[data-ready][data-empty]`).waitFor();
        assert.equal(
          await page.locator(selector('trend-chart')).getAttribute('aria-label'),
          label('noActivityInRange'),
        );
        assert.equal(
          await page.locator(selector('curve-chart')).getAttribute('aria-label'),
          label('noEntriesInRange'),
        );
        for (const [testid, why] of [
          ['steps-table', 'noStepReached'],
          ['channels-table', 'noMessagesSent'],
          ['exits-table', 'noExits'],
          ['cohorts-table', 'noCohorts'],
        ])
          assert.equal(await page.locator(selector(testid)).textContent(), label(why), testid);
        await checkScreen('journey-empty');
      });

      it("shows a user's profile, journeys and messages in the language", async () => {
        await page.goto(`${demo.url}/console/#/users/${encodeURIComponent(user)}?${range}`);
        await page.locator(selector('user-profile')).waitFor();
        await page.locator(selector('enrollment-row')).first().waitFor();
        const channels = await page
          .locator(`${selector('user-channels')} tbody td:first-child`)
          .evaluateAll((tds) => tds.map((td) => td.textContent));
        assert.deepEqual(
          channels,
          ['email', 'sms', 'push', 'wechat'].map((c) => WORDS[lang].channel[c]),
        );
        await checkScreen('user');
      });

      it('shows the incoming events', async () => {
        await page.goto(`${demo.url}/console/#/ingest`);
        await page.locator(selector('ingest-table')).waitFor();
        await checkScreen('ingest');
      });

      it('tells a key without the read scope what it lacks', async () => {
        const other = await openConsole(demo.browser, { lang, width: PHONE, key: KEYS.write });
        await other.page.goto(`${demo.url}/console/`);
        assert.equal(await other.page.locator(selector('key-error')).textContent(), label('keyLacksScope'));
        assert.ok((await pageWidth(other.page)) <= PHONE);
        await other.context.close();
        assert.deepEqual(other.errors, []);
      });

      it('raised no error in the page', () => {
        assert.deepEqual(errors, []);
      });
    });
  }
});
