// @ts-check
/**
 * Hash routes: `#/`, `#/journeys/<id>`, `#/users/<id>`, `#/ingest`, the editors' `#/edit` (journeys to
 * edit), `#/edit/<id>` (one in the editor), `#/segments`, `#/segments/<id>`, `#/tag-rules/<id>`,
 * `#/templates` and `#/templates/<id>`, each with an optional `?from&to&tz` (the report range, so that
 * a link shows what its sender saw); a journey's may add `&version`.
 */

const DAY = 86_400_000;

/** @typedef {{ from: string, to: string, tz: string }} Range */
/** @typedef {'segments' | 'tag-rules'} AudienceKind */
/** @typedef {{ page: 'journeys' } | { page: 'journey', id: string, version?: number } | { page: 'user', id: string } | { page: 'ingest' } | { page: 'edit' } | { page: 'editJourney', id: string } | { page: 'segments' } | { page: 'segment', kind: AudienceKind, id: string } | { page: 'templates' } | { page: 'template', id: string }} Page */

/** @param {string} tz */
export function validZone(tz) {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return tz.length > 0;
  } catch {
    return false;
  }
}

const isDate = (/** @type {string | null} */ s) => s !== null && /^\d{4}-\d{2}-\d{2}$/.test(s);

/** Today in `tz`, as YYYY-MM-DD. @param {string} tz */
export const today = (tz) => new Intl.DateTimeFormat('en-CA', { timeZone: tz }).format(new Date());

/** @param {string} date YYYY-MM-DD @param {number} days */
export const addDays = (date, days) =>
  new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY).toISOString().slice(0, 10);

/** Every date of a range, inclusive. @param {Range} range */
export function datesOf(range) {
  const dates = [];
  for (let d = range.from; d <= range.to; d = addDays(d, 1)) dates.push(d);
  return dates;
}

/** The range in the URL, else the last 30 days in the browser's timezone. @param {URLSearchParams} query */
function rangeOf(query) {
  const zone = query.get('tz');
  const tz = zone && validZone(zone) ? zone : Intl.DateTimeFormat().resolvedOptions().timeZone;
  const to = query.get('to');
  const end = isDate(to) ? /** @type {string} */ (to) : today(tz);
  const from = query.get('from');
  const start =
    isDate(from) && /** @type {string} */ (from) <= end ? /** @type {string} */ (from) : addDays(end, -29);
  return { from: start, to: end, tz };
}

/** @returns {{ page: Page, range: Range }} */
export function parse(hash = location.hash) {
  const [path, query = ''] = hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query);
  const range = rangeOf(params);
  const version = Number(params.get('version'));
  if (parts[0] === 'journeys' && parts[1])
    return {
      page: {
        page: 'journey',
        id: parts[1],
        ...(Number.isInteger(version) && version > 0 ? { version } : {}),
      },
      range,
    };
  if (parts[0] === 'users' && parts[1]) return { page: { page: 'user', id: parts[1] }, range };
  if (parts[0] === 'ingest') return { page: { page: 'ingest' }, range };
  if (parts[0] === 'edit')
    return { page: parts[1] ? { page: 'editJourney', id: parts[1] } : { page: 'edit' }, range };
  if ((parts[0] === 'segments' || parts[0] === 'tag-rules') && parts[1])
    return { page: { page: 'segment', kind: parts[0], id: parts[1] }, range };
  if (parts[0] === 'segments') return { page: { page: 'segments' }, range };
  if (parts[0] === 'templates' && parts[1]) return { page: { page: 'template', id: parts[1] }, range };
  if (parts[0] === 'templates') return { page: { page: 'templates' }, range };
  return { page: { page: 'journeys' }, range };
}

/** @param {Page} page */
function pathOf(page) {
  switch (page.page) {
    case 'journeys':
      return '/';
    case 'ingest':
    case 'edit':
    case 'segments':
    case 'templates':
      return `/${page.page}`;
    case 'editJourney':
      return `/edit/${encodeURIComponent(page.id)}`;
    case 'segment':
      return `/${page.kind}/${encodeURIComponent(page.id)}`;
    case 'template':
      return `/templates/${encodeURIComponent(page.id)}`;
    default:
      return `/${page.page === 'journey' ? 'journeys' : 'users'}/${encodeURIComponent(page.id)}`;
  }
}

/**
 * The hash of a page with a range.
 * @param {Page} page
 * @param {Range} range
 */
export function href(page, range) {
  const path = pathOf(page);
  const query = new URLSearchParams(range);
  if (page.page === 'journey' && page.version) query.set('version', String(page.version));
  return `#${path}?${query}`;
}
