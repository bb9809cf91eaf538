// @ts-check
/** Screen 3: one user. Profile, lifecycle history, journeys with their enrollments, messages, events. */
import { get } from '../api.js';
import { h, link, section, table } from '../dom.js';
import { int, text, time } from '../format.js';
import { t } from '../i18n.js';
import { href } from '../route.js';
import { term } from '../terms.js';

/** @typedef {import('../types').UserView} UserView */
/** @typedef {import('../types').Consent} Consent */

/** @param {string[]} items @param {string} testid @param {string} itemTestid */
const chips = (items, testid, itemTestid) =>
  h(
    'div',
    { className: 'chips', testid },
    ...(items.length === 0
      ? [h('span', { className: 'muted' }, t('none'))]
      : items.map((i) => h('span', { className: 'chip', testid: itemTestid }, i))),
  );

/** @param {Consent | null} c @param {string} tz */
const consent = (c, tz) =>
  c ? `${c.granted ? t('granted') : t('refused')} (${time(c.at, tz)})` : t('unknown');

/** @param {UserView['profile']} p @param {string} tz */
function profileCard(p, tz) {
  /** @type {[string, string, string?][]} */
  const facts = [
    [t('userId'), p.userId ?? t('unknown'), 'user-id'],
    [t('anonymousIds'), p.anonymousIds.join(', ') || t('none')],
    [
      t('lifecycle'),
      p.lifecycle ? `${term('lifecycle', p.lifecycle.state)} (${time(p.lifecycle.since, tz)})` : t('unknown'),
      'user-lifecycle',
    ],
    [t('timezone'), p.timezone ?? t('unknown')],
    [t('createdAt'), time(p.createdAt, tz)],
    [t('lastSeenAt'), time(p.lastSeenAt, tz)],
    [t('eventCount'), int(p.eventCount)],
  ];
  return section(
    t('profile'),
    'user-profile',
    h(
      'dl',
      { className: 'facts' },
      ...facts.flatMap(([label, value, testid]) => [h('dt', {}, label), h('dd', { testid }, value)]),
    ),
    h('h3', {}, t('tags')),
    chips(p.tags, 'user-tags', 'tag'),
    h('h3', {}, t('segments')),
    chips(p.segments, 'user-segments', 'segment'),
  );
}

/** @param {UserView['profile']} p @param {string} tz */
function traitsAndChannels(p, tz) {
  /** @type {import('../dom.js').Column<[string, unknown]>[]} */
  const traitColumns = [
    { label: t('trait'), cell: ([k]) => k },
    { label: t('value'), cell: ([, v]) => text(v) },
  ];
  const c = p.channels;
  /** @type {[string, string, Consent | null][]} */
  const rows = [
    ['email', c.email.address ?? t('unknown'), c.email.consent],
    ['sms', c.sms.address ?? t('unknown'), c.sms.consent],
    [
      'push',
      c.push.tokens.map((k) => `${k.provider}/${k.platform}`).join(', ') || t('unknown'),
      c.push.consent,
    ],
    ['wechat', Object.keys(c.wechat.apps).join(', ') || t('unknown'), c.wechat.consent],
  ];
  /** @type {import('../dom.js').Column<[string, string, Consent | null]>[]} */
  const channelColumns = [
    { label: t('channel'), cell: ([name]) => term('channel', name) },
    { label: t('address'), cell: ([, address]) => address },
    { label: t('consent'), cell: ([, , granted]) => consent(granted, tz) },
  ];
  return h(
    'div',
    { className: 'grid' },
    section(
      t('traits'),
      'traits',
      table('user-traits', traitColumns, Object.entries(p.traits), 'trait-row', undefined, t('noTraits')),
    ),
    section(t('addresses'), 'channels', table('user-channels', channelColumns, rows, 'channel-row')),
  );
}

/** @param {import('../types').LifecycleView} lifecycle @param {string} tz */
function lifecycleHistory(lifecycle, tz) {
  /** @type {import('../dom.js').Column<import('../types').LifecycleView['history'][number]>[]} */
  const columns = [
    { label: t('at'), cell: (m) => time(m.at, tz) },
    { label: t('fromState'), cell: (m) => (m.from ? term('lifecycle', m.from) : t('unknown')) },
    { label: t('toState'), cell: (m) => (m.to ? term('lifecycle', m.to) : t('unknown')) },
  ];
  return section(
    t('lifecycleHistory'),
    'lifecycle',
    // What the activity implies: an import of old events can announce moves later events refute.
    table(
      'lifecycle-history',
      columns,
      [...(lifecycle.implied ?? lifecycle.history)].reverse(),
      'lifecycle-row',
      undefined,
      t('noLifecycleMoves'),
    ),
  );
}

/** @param {import('../types').UserJourneys} journeys @param {import('../types').Context} ctx */
function journeyCards(journeys, ctx) {
  const tz = ctx.range.tz;
  /** @type {import('../dom.js').Column<import('../types').Enrollment>[]} */
  const columns = [
    { label: t('enrollment'), cell: (e) => h('code', {}, e.id) },
    { label: t('version'), cell: (e) => e.version ?? t('unknown'), numeric: true },
    {
      label: t('state'),
      cell: (e) => {
        const state = term('enrollmentState', e.state);
        return e.state === 'active' && e.step ? `${state} · ${e.step}` : state;
      },
    },
    { label: t('holdout'), cell: (e) => (e.holdout ? t('yes') : t('no')) },
    { label: t('enteredAt'), cell: (e) => time(e.enteredAt, tz) },
    { label: t('exitedAt'), cell: (e) => time(e.exitedAt, tz) },
    { label: t('exitReason'), cell: (e) => (e.exitReason ? term('reason', e.exitReason) : t('unknown')) },
  ];
  return section(
    t('userJourneys'),
    'user-journeys',
    ...(journeys.journeys.length === 0 ? [h('p', { className: 'muted' }, t('none'))] : []),
    ...journeys.journeys.map((j) =>
      h(
        'div',
        { className: 'sub', testid: 'user-journey' },
        h(
          'h3',
          {},
          link(href({ page: 'journey', id: j.journeyId }, ctx.range), j.journeyId),
          ` · ${t('entries')}: ${int(j.entries)}`,
        ),
        table('enrollments', columns, j.enrollments, 'enrollment-row'),
      ),
    ),
  );
}

/** @param {import('../types').UserJourneys} journeys @param {import('../types').Context} ctx */
function messages(journeys, ctx) {
  const list = journeys.journeys
    .flatMap((j) =>
      j.enrollments.flatMap((e) =>
        e.log
          .filter((l) => l.event === 'message_sent' || l.event === 'message_skipped')
          .map((l) => ({ journeyId: j.journeyId, ...l })),
      ),
    )
    .sort((a, b) => String(b.at).localeCompare(String(a.at)));
  /** @type {import('../dom.js').Column<(typeof list)[number]>[]} */
  const columns = [
    { label: t('at'), cell: (m) => time(m.at, ctx.range.tz) },
    {
      label: t('name'),
      cell: (m) => link(href({ page: 'journey', id: m.journeyId }, ctx.range), m.journeyId),
    },
    { label: t('step'), cell: (m) => m.step ?? t('unknown') },
    { label: t('channel'), cell: (m) => (m.channel ? term('channel', m.channel) : t('unknown')) },
    { label: t('template'), cell: (m) => m.template ?? t('unknown') },
    {
      label: t('status'),
      cell: (m) =>
        m.event === 'message_skipped'
          ? `${t('skipped')}: ${term('reason', m.reason)}`
          : m.status
            ? term('messageStatus', m.status)
            : t('unknown'),
    },
  ];
  return section(
    t('messages'),
    'messages',
    list.length === 0
      ? h('p', { className: 'muted', testid: 'user-messages' }, t('none'))
      : table('user-messages', columns, list, 'message-row'),
  );
}

/** @param {UserView['events']} events @param {string} tz */
function recentEvents(events, tz) {
  /** @type {import('../dom.js').Column<UserView['events'][number]>[]} */
  const columns = [
    { label: t('at'), cell: (e) => time(e.timestamp, tz) },
    { label: t('type'), cell: (e) => term('eventType', e.type) },
    {
      label: t('event'),
      cell: (e) => (e.type === 'internal' ? term('internalEvent', e.event) : (e.name ?? e.event)),
    },
  ];
  return section(
    t('recentEvents'),
    'events',
    table('user-events', columns, events, 'event-row', undefined, t('noEvents')),
  );
}

/** @param {import('../types').Context} ctx @param {string} id */
export async function userView(ctx, id) {
  const path = `v1/users/${encodeURIComponent(id)}`;
  /** @type {[UserView, import('../types').LifecycleView, import('../types').UserJourneys]} */
  const [user, lifecycle, journeys] = await Promise.all([
    get(path, { include: 'internal', limit: '50' }),
    get(`${path}/lifecycle`),
    get(`${path}/journeys`),
  ]);
  if (ctx.stale()) return;
  const tz = ctx.range.tz;
  ctx.root.replaceChildren(
    h('section', { className: 'card head' }, h('h1', { testid: 'user-title' }, `${t('user')} ${id}`)),
    h('div', { className: 'grid' }, profileCard(user.profile, tz), lifecycleHistory(lifecycle, tz)),
    traitsAndChannels(user.profile, tz),
    journeyCards(journeys, ctx),
    messages(journeys, ctx),
    recentEvents(user.events, tz),
  );
}
