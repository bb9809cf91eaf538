/**
 * Takes the README's screenshot of the console (docs/images/console.png): the demo on a fresh data
 * folder, a journey's page in English at 1280 × 800, once its charts have drawn. Needs chromium on
 * the PATH and a build (`npm run build`), as the browser tests do:
 *
 *   npm run build && npm run docs:screenshot [-- <journey id>]
 */
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chartOption, CHROMIUM, openConsole, selector, startDemo } from '../test/console/harness.ts';

const OUT = fileURLToPath(new URL('../docs/images/console.png', import.meta.url));
const journey = process.argv[2] ?? 'cart_abandonment';

if (!CHROMIUM) throw new Error('chromium is not on the PATH');
const demo = await startDemo();
try {
  const { page } = await openConsole(demo.browser, { lang: 'en', width: 1280, height: 800 });
  await page.goto(`${demo.url}/console/#/journeys/${journey}?tz=Asia/Shanghai`);
  await page.locator(selector('journey-title')).waitFor();
  for (const chart of ['trend-chart', 'curve-chart', 'journey-graph']) await chartOption(page, chart);
  await page.screenshot({ path: OUT });
  console.log(`${OUT}: ${Math.round(statSync(OUT).size / 1024)} KB`);
} finally {
  await demo.close();
}
