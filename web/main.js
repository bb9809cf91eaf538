// @ts-check
/** The console: draws the page the hash names, asking for the read key first when it has none. */
import { ApiError, forgetKey, readKey } from './api.js';
import { disposeAll } from './charts.js';
import { h } from './dom.js';
import { renderHeader } from './header.js';
import { locale, t } from './i18n.js';
import { parse } from './route.js';
import { editJourneyView } from './views/edit-journey.js';
import { editJourneysView } from './views/edit-journeys.js';
import { ingestView } from './views/ingest.js';
import { journeyView } from './views/journey.js';
import { journeysView } from './views/journeys.js';
import { keyView } from './views/key.js';
import { userView } from './views/user.js';
import { audienceEditorView, audienceListView } from './views/audience.js';
import { templateEditorView, templateListView } from './views/templates.js';

const header = /** @type {HTMLElement} */ (document.querySelector('header'));
const root = /** @type {HTMLElement} */ (document.querySelector('main'));
let generation = 0;

/** @param {string | null} [problem] */
async function render(problem = null) {
  const current = ++generation;
  const { page, range } = parse();
  disposeAll();
  document.documentElement.lang = locale();
  document.title = t('title');
  renderHeader(header, page, range, () => void render());
  if (!readKey()) return keyView(root, problem, () => void render());

  root.replaceChildren(h('p', { className: 'muted', testid: 'loading' }, t('loading')));
  const ctx = { root, range, stale: () => current !== generation };
  try {
    if (page.page === 'journey') await journeyView(ctx, page.id, page.version);
    else if (page.page === 'user') await userView(ctx, page.id);
    else if (page.page === 'ingest') await ingestView(ctx);
    else if (page.page === 'segments') await audienceListView(ctx);
    else if (page.page === 'segment') await audienceEditorView(ctx, page.kind, page.id);
    else if (page.page === 'templates') await templateListView(ctx);
    else if (page.page === 'template') await templateEditorView(ctx, page.id);
    else if (page.page === 'edit') await editJourneysView(ctx);
    else if (page.page === 'editJourney') await editJourneyView(ctx, page.id);
    else await journeysView(ctx);
  } catch (error) {
    if (ctx.stale()) return;
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      forgetKey();
      return render(error.status === 403 ? t('keyLacksScope') : t('keyRejected'));
    }
    const notFound = error instanceof ApiError && error.status === 404;
    root.replaceChildren(
      h(
        'section',
        { className: 'card', testid: notFound ? 'not-found' : 'error' },
        h('h1', {}, notFound ? t('notFound') : t('requestFailed')),
        h('p', { className: 'error' }, error instanceof Error ? error.message : String(error)),
      ),
    );
  }
}

addEventListener('hashchange', () => void render());
void render();
