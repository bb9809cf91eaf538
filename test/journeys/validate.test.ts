import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import journeySchema from '../../schemas/journey.schema.json' with { type: 'json' };
import templateSchema from '../../schemas/template.schema.json' with { type: 'json' };
import { type JourneyDefinition } from '../../journeys/journey.ts';
import {
  ENTRY_RULE,
  type JourneyContext,
  journeyNote,
  NO_SEND_ENTRY_RULE,
  stepIndex,
  successors,
  validateJourney,
} from '../../journeys/validate.ts';
import { SEND_CHANNELS } from '../../model/channels.ts';
import { validateTemplate } from '../../templates/validate.ts';

const WORKSPACE = new URL('../../fixtures/workspace/', import.meta.url);

function readFolder(folder: string): { file: string; doc: any }[] {
  const dir = new URL(`${folder}/`, WORKSPACE);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, doc: JSON.parse(readFileSync(new URL(file, dir), 'utf8')) }));
}

const known: JourneyContext = {
  segments: new Set(['vip', 'new_users']),
  templates: new Map([
    ['sms_t', { channel: 'sms' }],
    ['sms_t2', { channel: 'sms' }],
    ['email_t', { channel: 'email' }],
    ['wechat_t', { channel: 'wechat' }],
  ]),
  channels: new Set(['sms', 'email']),
};

/** A valid journey to break: `patch` edits a fresh copy. */
function journey(patch: (j: any) => void = () => {}): any {
  const doc: any = {
    id: 'test_journey',
    version: 1,
    name: 'Test',
    trigger: { type: 'event', event: 'cart_add' },
    steps: [
      { id: 'first', type: 'send', channel: 'sms', template: 'sms_t' },
      { id: 'pause', type: 'wait', duration: 'PT1H' },
      { id: 'last', type: 'send', channel: 'email', template: 'email_t' },
    ],
  };
  patch(doc);
  return doc;
}

const faults = (doc: unknown, context = known) => validateJourney(doc, context).faults;
const pointers = (doc: unknown, context = known) => faults(doc, context).map((f) => f.pointer);

/** The only fault of `doc`: at `pointer`, its message matching `message`. */
function onlyFault(doc: unknown, pointer: string, message: RegExp): void {
  const found = faults(doc);
  assert.deepEqual(
    found.map((f) => f.pointer),
    [pointer],
    JSON.stringify(found),
  );
  assert.match(found[0].message, message);
}

describe('journey documents', () => {
  it('a valid journey has no faults and comes back typed', () => {
    const doc = journey();
    const result = validateJourney(doc, known);
    assert.deepEqual(result.faults, []);
    assert.equal(result.journey, doc);
  });

  it('not an object, missing and unknown top-level fields', () => {
    assert.deepEqual(pointers('journey'), ['']);
    assert.deepEqual(
      pointers(
        journey((j) => {
          delete j.name;
          j.colour = 'blue';
        }),
      ),
      ['/name', '/colour'],
    );
    onlyFault(
      journey((j) => (j.steps = [])),
      '/steps',
      /fewer than 1/,
    );
    onlyFault(
      journey((j) => (j.id = 'Cart Abandonment')),
      '/id',
      /pattern/,
    );
  });

  it('an unknown step type is one fault at its type', () => {
    onlyFault(
      journey((j) => (j.steps[2] = { id: 'x', type: 'foo', bar: 1 })),
      '/steps/2/type',
      /^step 'x': unknown step type 'foo' \(step types: wait, waitFor, branch, split, send, tag, update, webhook, exit\)$/,
    );
    onlyFault(
      journey((j) => delete j.steps[1].type),
      '/steps/1/type',
      /is required/,
    );
  });

  it('a step that is not an object, or lacks its id, is one fault and cuts nothing off', () => {
    onlyFault(
      journey((j) => (j.steps[1] = 'wait an hour')),
      '/steps/1',
      /must be object/,
    );
    onlyFault(
      journey((j) => delete j.steps[2].id),
      '/steps/2/id',
      /is required/,
    );
  });

  it('an unknown field in a step is one fault at the field', () => {
    onlyFault(
      journey((j) => (j.steps[2].bar = true)),
      '/steps/2/bar',
      /^step 'last': unknown field 'bar'$/,
    );
    onlyFault(
      journey((j) => (j.steps[2] = { id: 'last', type: 'exit', next: 'first' })),
      '/steps/2/next',
      /unknown field 'next'/,
    );
  });

  it('an unknown trigger type or a malformed trigger is one fault', () => {
    onlyFault(
      journey((j) => (j.trigger = { type: 'webhook', url: 'x' })),
      '/trigger/type',
      /^unknown trigger type 'webhook' \(trigger types: event, segment, lifecycle, schedule\)$/,
    );
    onlyFault(
      journey((j) => (j.trigger = { type: 'lifecycle', to: 'sleepy' })),
      '/trigger/to',
      /must be one of new, active, dormant, churned, reactivated/,
    );
    onlyFault(
      journey((j) => (j.trigger = { type: 'segment', segment: 'vip' })),
      '/trigger/on',
      /is required/,
    );
  });

  it('a link that names no step', () => {
    onlyFault(
      journey((j) => (j.steps[0].next = 'nowhere')),
      '/steps/0/next',
      /^step 'first': no step 'nowhere'$/,
    );
    const doc = journey((j) => {
      j.steps = [
        { id: 'w', type: 'waitFor', event: 'order_paid', timeout: 'PT1H', onEvent: 'a1', onTimeout: 'a2' },
        { id: 'b', type: 'branch', branches: [{ condition: cond(), next: 'a3' }], else: 'a4' },
        {
          id: 's',
          type: 'split',
          paths: [
            { weight: 1, next: 'a5' },
            { weight: 1, next: 'end' },
          ],
        },
        { id: 'end', type: 'exit' },
      ];
    });
    assert.deepEqual(pointers(doc), [
      '/steps/0/onEvent',
      '/steps/0/onTimeout',
      '/steps/1/branches/0/next',
      '/steps/1/else',
      '/steps/2/paths/0/next',
    ]);
  });

  it('duplicate step ids', () => {
    onlyFault(
      journey((j) => (j.steps[2].id = 'first')),
      '/steps/2/id',
      /duplicate step id 'first' \(also \/steps\/0\)/,
    );
  });

  it('unreachable steps, following implicit and explicit links', () => {
    onlyFault(
      journey((j) => (j.steps[0].next = 'last')),
      '/steps/1',
      /step 'pause' is unreachable/,
    );
    const doc = journey((j) => {
      j.steps = [
        { id: 'check', type: 'branch', branches: [{ condition: cond(), next: 'yes' }] },
        { id: 'no', type: 'exit' },
        { id: 'orphan', type: 'send', channel: 'sms', template: 'sms_t' },
        { id: 'yes', type: 'send', channel: 'sms', template: 'sms_t' },
      ];
    });
    assert.deepEqual(pointers(doc), ['/steps/2']);
    // A broken link might have meant any step: only the link is reported.
    onlyFault(
      journey((j) => (j.steps[0].next = 'lst')),
      '/steps/0/next',
      /no step 'lst'/,
    );
  });

  it('a loop without a wait is one fault naming its steps; a loop through a wait is fine', () => {
    onlyFault(
      journey((j) => {
        j.steps[1] = { id: 'tag', type: 'tag', add: ['looping'] };
        j.steps[2].next = 'first';
      }),
      '/steps/0',
      /^loop without a wait or waitFor: first -> tag -> last -> first$/,
    );
    onlyFault(
      journey((j) => (j.steps[2].next = 'last')),
      '/steps/2',
      /^loop without a wait or waitFor: last -> last$/,
    );
    assert.deepEqual(
      pointers(journey((j) => (j.steps[2].next = 'first'))),
      [],
      'the loop passes through the wait step',
    );
    const waitingFor = journey((j) => {
      j.steps[1] = { id: 'pause', type: 'waitFor', event: 'order_paid', timeout: 'P1D', onEvent: 'last' };
      j.steps[2].next = 'first';
    });
    assert.deepEqual(pointers(waitingFor), []);
  });

  it('unknown segments', () => {
    const doc = journey((j) => {
      j.trigger = { type: 'segment', segment: 'vipp', on: 'entered' };
      j.audience = { segment: 'nobody' };
      j.exit = [{ event: 'order_paid' }, { segment: 'gone', on: 'exited' }];
      j.goal = { segment: 'converted' };
    });
    assert.deepEqual(pointers(doc), [
      '/trigger/segment',
      '/audience/segment',
      '/exit/1/segment',
      '/goal/segment',
    ]);
    assert.match(faults(doc)[0].message, /^unknown segment 'vipp', did you mean 'vip'\?$/);
  });

  it('send steps: unknown template, unconfigured channel, template for another channel', () => {
    onlyFault(
      journey((j) => (j.steps[0].template = 'nope')),
      '/steps/0/template',
      /^step 'first': unknown template 'nope'$/,
    );
    onlyFault(
      journey((j) => (j.steps[0].template = 'email_t')),
      '/steps/0/template',
      /^step 'first': template 'email_t' is for email, not sms$/,
    );
    onlyFault(
      journey((j) => (j.steps[0] = { id: 'first', type: 'send', channel: 'wechat', template: 'wechat_t' })),
      '/steps/0/channel',
      /channel 'wechat' is not configured in this workspace \(configured: sms, email\)/,
    );
    onlyFault(
      journey((j) => (j.steps[0].channel = 'fax')),
      '/steps/0/channel',
      /must be one of sms, email, push, wechat, miniprogram, sandbox/,
    );
    const doc = journey((j) => {
      j.steps[0].fallback = { channel: 'email', template: 'sms_t2' };
      j.steps[0].variants = [
        { condition: cond(), template: 'sms_t2' },
        { condition: cond(), template: 'email_t' },
        { condition: cond(), template: 'missing' },
      ];
    });
    assert.deepEqual(pointers(doc), [
      '/steps/0/fallback/template',
      '/steps/0/variants/1/template',
      '/steps/0/variants/2/template',
    ]);
  });

  it('malformed durations wherever a duration goes', () => {
    const doc = journey((j) => {
      j.entry = { reentry: 'anytime', minInterval: '7 days' };
      j.goal = { event: 'order_paid', within: 'P' };
      j.steps = [
        { id: 'w', type: 'wait', duration: 'PT0S' },
        { id: 'wf', type: 'waitFor', event: 'order_paid', timeout: 3600 },
        { id: 'hook', type: 'webhook', url: 'https://crm.example.com/hook', timeout: 'PT1M' },
        { id: 'hook2', type: 'webhook', url: 'https://crm.example.com/hook', timeout: '5s' },
      ];
    });
    assert.deepEqual(pointers(doc), [
      '/entry/minInterval',
      '/goal/within',
      '/steps/0/duration',
      '/steps/1/timeout',
      '/steps/2/timeout',
      '/steps/3/timeout',
    ]);
    const messages = faults(doc).map((f) => f.message);
    assert.match(messages[0], /positive ISO 8601 duration .* not '7 days'/);
    assert.match(messages[4], /^step 'hook': at most PT30S/);
  });

  it('schedule triggers: cron, timezone, audience', () => {
    const schedule = (trigger: object, audience: object | null = { segment: 'vip' }) =>
      journey((j) => {
        j.trigger = { type: 'schedule', cron: '0 9 * * *', tz: 'Asia/Shanghai', ...trigger };
        if (audience) j.audience = audience;
      });
    assert.deepEqual(pointers(schedule({})), []);
    onlyFault(schedule({ cron: '61 9 * * *' }), '/trigger/cron', /invalid cron expression: .*61/);
    onlyFault(schedule({ cron: 'every day' }), '/trigger/cron', /invalid cron expression/);
    onlyFault(schedule({ cron: ' ' }), '/trigger/cron', /must not be empty/);
    // At most once every 15 minutes: every second, every minute, and bursts inside one hour refused.
    for (const cron of ['* * * * * *', '* * * * *', '*/5 * * * *', '*/1 9 * * *', '0,10 9 * * *'])
      onlyFault(schedule({ cron }), '/trigger/cron', /a schedule may fire at most once every 15 minutes/);
    for (const cron of ['*/15 * * * *', '0 * * * *', '0 9 * * 1'])
      assert.deepEqual(pointers(schedule({ cron })), [], cron);
    onlyFault(schedule({ tz: 'Asia/Beijing' }), '/trigger/tz', /unknown IANA timezone 'Asia\/Beijing'/);
    onlyFault(schedule({}, null), '/audience', /needs an audience/);
    onlyFault(schedule({}, { condition: cond() }), '/audience/segment', /needs an audience segment/);
  });

  it('conditions are validated where they are, with their pointers', () => {
    const bad = { fact: 'profile', path: '$.traits.city', operator: 'resembles', value: 'x' };
    const doc = journey((j) => {
      j.trigger.where = { all: [bad] };
      j.audience = { condition: { fact: 'weather', operator: 'equal', value: 1 } };
      j.exit = [{ event: 'order_paid', where: 'paid' }];
      j.goal = { event: 'order_paid', where: { any: [] } };
      j.steps[0].variants = [{ condition: { not: bad }, template: 'sms_t2' }];
      j.steps[1] = { id: 'pause', type: 'waitFor', event: 'order_paid', timeout: 'PT1H', where: bad };
    });
    assert.deepEqual(pointers(doc), [
      '/trigger/where/all/0/operator',
      '/audience/condition/fact',
      '/exit/0/where',
      '/goal/where/any',
      '/steps/0/variants/0/condition/not/operator',
      '/steps/1/where/operator',
    ]);
  });

  it("conditions that run without an event cannot read the 'event' fact", () => {
    const readsEvent = { fact: 'event', path: '$.properties.amount', operator: 'greaterThan', value: 100 };
    const doc = journey((j) => {
      j.trigger = { type: 'schedule', cron: '0 9 * * *', tz: 'UTC', where: readsEvent };
      j.audience = { segment: 'vip', condition: { all: [cond(), readsEvent] } };
      j.steps[0].variants = [{ condition: { not: readsEvent }, template: 'sms_t2' }];
      j.steps[1] = {
        id: 'pause',
        type: 'branch',
        branches: [
          {
            condition: {
              fact: 'profile',
              path: '$.traits.budget',
              operator: 'lessThan',
              value: { fact: 'event' },
            },
            next: 'last',
          },
        ],
      };
    });
    assert.deepEqual(pointers(doc), [
      '/trigger/where/fact',
      '/audience/condition/all/1/fact',
      '/steps/0/variants/0/condition/not/fact',
      '/steps/1/branches/0/condition/value/fact',
    ]);
    assert.match(faults(doc)[0].message, /cannot read the 'event' fact/);

    const withEvent = journey((j) => {
      j.trigger.where = readsEvent;
      j.exit = [{ event: 'order_paid', where: readsEvent }];
      j.goal = { event: 'order_paid', where: readsEvent, revenue: 'amount' };
      j.steps[1] = { id: 'pause', type: 'waitFor', event: 'order_paid', timeout: 'PT1H', where: readsEvent };
      j.audience = {
        condition: {
          fact: 'aggregate',
          params: { event: 'order_paid', fn: 'count', where: readsEvent },
          operator: 'greaterThan',
          value: 0,
        },
      };
    });
    assert.deepEqual(pointers(withEvent), [], "an aggregate's where reads the aggregated event");
  });

  it('waitFor match needs an event trigger', () => {
    const doc = (trigger: object) =>
      journey((j) => {
        j.trigger = trigger;
        j.steps[1] = {
          id: 'pause',
          type: 'waitFor',
          event: 'order_paid',
          match: 'properties.cartId',
          timeout: 'PT1H',
        };
      });
    assert.deepEqual(pointers(doc({ type: 'event', event: 'cart_add' })), []);
    onlyFault(
      doc({ type: 'segment', segment: 'vip', on: 'entered' }),
      '/steps/1/match',
      /only for event triggers, not 'segment'/,
    );
  });

  it('entry, quiet hours, holdout and lifecycle triggers', () => {
    onlyFault(
      journey((j) => (j.entry = { minInterval: 'P7D' })),
      '/entry/minInterval',
      /only applies when reentry is afterExit or anytime/,
    );
    onlyFault(
      journey((j) => (j.policy = { quietHours: { start: '21:00', end: '21:00', action: 'defer' } })),
      '/policy/quietHours/end',
      /window would be empty/,
    );
    onlyFault(
      journey((j) => (j.policy = { quietHours: { start: '21:00', end: '8:00', action: 'defer' } })),
      '/policy/quietHours/end',
      /pattern/,
    );
    onlyFault(
      journey((j) => (j.holdout = { percent: 120 })),
      '/holdout/percent',
      /<= 100/,
    );
    onlyFault(
      journey((j) => (j.trigger = { type: 'lifecycle', from: 'dormant', to: 'dormant' })),
      '/trigger/from',
      /the same stage as 'to'/,
    );
    assert.deepEqual(pointers(journey((j) => (j.holdout = { percent: 2.5 }))), []);
  });

  it('exit criteria and goals: an event or a segment', () => {
    onlyFault(
      journey((j) => (j.exit = [{ segment: 'vip', on: 'exited', where: cond() }])),
      '/exit/0/where',
      /unknown field 'where'/,
    );
    onlyFault(
      journey((j) => (j.exit = [{}])),
      '/exit/0/event',
      /is required/,
    );
    onlyFault(
      journey((j) => (j.goal = { segment: 'vip', revenue: 'amount' })),
      '/goal/revenue',
      /unknown field 'revenue'/,
    );
  });

  it('wait steps: a duration or until, a real date', () => {
    const wait = (fields: object) =>
      journey((j) => {
        j.steps[1] = { id: 'pause', type: 'wait', ...fields };
      });
    assert.deepEqual(pointers(wait({ until: { time: '09:00' } })), []);
    assert.deepEqual(pointers(wait({ until: { time: '09:00', date: '2028-02-29' } })), []);
    onlyFault(wait({}), '/steps/1', /needs a duration or until/);
    onlyFault(wait({ duration: 'PT1H', until: { time: '09:00' } }), '/steps/1/until', /not both/);
    onlyFault(wait({ until: { time: '09:00', date: '2026-02-29' } }), '/steps/1/until/date', /no such date/);
    onlyFault(wait({ until: { time: '24:00' } }), '/steps/1/until/time', /pattern/);
  });

  it('branch, split, tag, update and webhook steps', () => {
    const step = (fields: object) =>
      journey((j) => {
        j.steps[1] = { id: 'pause', ...fields };
      });
    onlyFault(step({ type: 'branch', branches: [] }), '/steps/1/branches', /fewer than 1/);
    onlyFault(
      step({ type: 'branch', branches: [{ next: 'last' }] }),
      '/steps/1/branches/0/condition',
      /is required/,
    );
    onlyFault(
      step({ type: 'split', paths: [{ weight: 1, next: 'last' }] }),
      '/steps/1/paths',
      /fewer than 2/,
    );
    onlyFault(
      step({
        type: 'split',
        paths: [
          { weight: 0, next: 'last' },
          { weight: 1, next: 'last' },
        ],
      }),
      '/steps/1/paths/0/weight',
      /> 0/,
    );
    onlyFault(step({ type: 'tag', add: [], remove: [] }), '/steps/1', /at least one tag/);
    onlyFault(step({ type: 'tag', add: ['bad tag'] }), '/steps/1/add/0', /pattern/);
    onlyFault(step({ type: 'update', traits: {} }), '/steps/1/traits', /fewer than 1/);
    assert.deepEqual(pointers(step({ type: 'update', traits: { vip: true, prefs: { sms: false } } })), []);
    const hook = { type: 'webhook', url: 'https://crm.example.com/hook' };
    assert.deepEqual(
      pointers(
        step({
          ...hook,
          method: 'POST',
          headers: { 'X-Token': 'abc' },
          body: { userId: '{{ profile.userId }}', n: [1, 2] },
          timeout: 'PT30S',
          retries: 3,
          setTraits: { crmLevel: '$.data.level' },
        }),
      ),
      [],
    );
    onlyFault(step({ ...hook, url: 'ftp://example.com/x' }), '/steps/1/url', /pattern/);
    onlyFault(step({ ...hook, url: 'https://exa mple.com/x' }), '/steps/1/url', /not a valid URL/);
    onlyFault(step({ ...hook, method: 'GET' }), '/steps/1/method', /must be one of POST/);
    onlyFault(step({ ...hook, retries: 11 }), '/steps/1/retries', /<= 10/);
    onlyFault(step({ ...hook, setTraits: { level: 'data.level' } }), '/steps/1/setTraits/level', /pattern/);
    onlyFault(step({ ...hook, headers: { 'X-N': 1 } }), '/steps/1/headers/X-N', /must be string/);
  });

  it('a journey with several faults gets every one of them, once', () => {
    const doc = journey((j) => {
      j.version = 0;
      j.trigger = { type: 'segment', segment: 'ghosts', on: 'entered' };
      j.entry = { reentry: 'sometimes' };
      j.goal = { event: 'order_paid', within: 'a week' };
      j.steps = [
        { id: 'first', type: 'send', channel: 'sms', template: 'email_t', next: 'gone' },
        { id: 'pause', type: 'wiat', duration: 'PT1H' },
        { id: 'match', type: 'waitFor', event: 'order_paid', match: 'properties.orderId', timeout: 'PT1H' },
        { id: 'loop', type: 'tag', add: ['x'], next: 'again' },
        { id: 'again', type: 'update', traits: { a: 1 }, next: 'loop', colour: 'red' },
      ];
    });
    const found = faults(doc);
    assert.deepEqual(
      found.map((f) => f.pointer),
      [
        '/version',
        '/entry/reentry',
        '/steps/1/type',
        '/steps/4/colour',
        '/trigger/segment',
        '/goal/within',
        '/steps/0/template',
        '/steps/2/match',
        '/steps/0/next',
        '/steps/3',
      ],
      JSON.stringify(found, null, 2),
    );
    assert.equal(new Set(found.map((f) => f.pointer)).size, found.length, 'no duplicates');
  });
});

describe('the step graph', () => {
  it('successors resolve implicit and explicit links; stepIndex maps ids to indices', () => {
    const j: JourneyDefinition = {
      id: 'g',
      version: 1,
      name: 'Graph',
      trigger: { type: 'event', event: 'cart_add' },
      steps: [
        { id: 'w', type: 'waitFor', event: 'order_paid', timeout: 'PT1H', onEvent: 'done' },
        { id: 'b', type: 'branch', branches: [{ condition: cond(), next: 'done' }] },
        {
          id: 's',
          type: 'split',
          paths: [
            { weight: 1, next: 'done' },
            { weight: 1, next: 'm' },
          ],
        },
        { id: 'm', type: 'send', channel: 'sms', template: 'sms_t' },
        { id: 'done', type: 'exit' },
        { id: 'tail', type: 'wait', duration: 'PT1M' },
      ],
    };
    assert.deepEqual(
      [...stepIndex(j)],
      [
        ['w', 0],
        ['b', 1],
        ['s', 2],
        ['m', 3],
        ['done', 4],
        ['tail', 5],
      ],
    );
    assert.deepEqual(successors(j, 0), ['done', 'b']);
    assert.deepEqual(successors(j, 1), ['done', 's']);
    assert.deepEqual(successors(j, 2), ['done', 'm']);
    assert.deepEqual(successors(j, 3), ['done']);
    assert.deepEqual(successors(j, 4), []);
    assert.deepEqual(successors(j, 5), [], 'the last step without next ends the journey');
  });
});

describe('template documents', () => {
  const template = (channel: string, content: unknown) => ({
    id: 't',
    version: 1,
    name: 'T',
    channel,
    content,
  });
  const templatePointers = (doc: unknown) => validateTemplate(doc).faults.map((f) => f.pointer);

  it('accepts each channel', () => {
    const valid = [
      template('sms', {
        signName: 'Shop',
        templateCode: 'SMS_1',
        params: { name: '{{ profile.traits.name }}' },
      }),
      template('email', { subject: 'Hi', text: 'Hello' }),
      template('push', { title: 'Hi', body: 'Hello', data: { page: '/x' } }),
      template('wechat', {
        templateId: 'tm',
        miniprogram: { appid: 'wx1', pagepath: 'pages/index' },
        data: { thing1: '{{ event.properties.category }}' },
      }),
      template('miniprogram', { templateId: 'tm', page: 'pages/index', data: { thing1: 'x' } }),
      template('sandbox', { text: 'Hello {{ profile.traits.name }}' }),
    ];
    for (const doc of valid) assert.deepEqual(validateTemplate(doc).faults, [], JSON.stringify(doc));
  });

  it('reports content faults for its channel, each once', () => {
    assert.deepEqual(templatePointers(template('email', { subject: 'Hi' })), ['/content']);
    assert.deepEqual(templatePointers(template('sms', { signName: 'Shop', params: {}, colour: 1 })), [
      '/content/templateCode',
      '/content/colour',
    ]);
    assert.deepEqual(templatePointers(template('push', { title: 'Hi', body: 'x', data: { n: 1 } })), [
      '/content/data/n',
    ]);
    assert.deepEqual(templatePointers(template('fax', { text: 'x' })), ['/channel']);
    assert.deepEqual(templatePointers(template('sandbox', 'hello')), ['/content']);
    assert.deepEqual(templatePointers({ ...template('sandbox', { text: 'x' }), id: 'T 1', extra: 1 }), [
      '/extra',
      '/id',
    ]);
  });
});

describe('the demo workspace', () => {
  const templates = readFolder('templates');
  const segmentIds = readFolder('segments').map(({ doc }) => doc.id as string);
  const demo: JourneyContext = {
    // The birthday journey's segment, in case its file is not in the workspace yet.
    segments: new Set([...segmentIds, 'birthday_this_month']),
    templates: new Map(templates.map(({ doc }) => [doc.id as string, { channel: doc.channel as string }])),
    channels: new Set(SEND_CHANNELS),
  };

  it('every template is valid and named after its file', () => {
    assert.ok(templates.length > 0);
    for (const { file, doc } of templates) {
      assert.deepEqual(validateTemplate(doc).faults, [], file);
      assert.equal(`${doc.id}.json`, file);
      assert.equal(doc.$schema, '../../../schemas/template.schema.json');
    }
  });

  it('the 7 demo journeys are valid against the demo workspace', () => {
    const journeys = readFolder('journeys');
    assert.deepEqual(
      journeys.map(({ doc }) => doc.id),
      [
        'birthday_greeting',
        'browse_abandonment',
        'cart_abandonment',
        'qr_follow_up',
        'weekly_promotion',
        'welcome_series',
        'win_back',
      ],
    );
    for (const { file, doc } of journeys) {
      assert.deepEqual(validateJourney(doc, demo).faults, [], file);
      assert.equal(`${doc.id}.json`, file);
      assert.equal(doc.$schema, '../../../schemas/journey.schema.json');
    }
  });

  it('the schemas are valid draft-07 for editors', () => {
    const ajv = new Ajv({ strict: false, discriminator: true });
    assert.ok(ajv.validateSchema(journeySchema), JSON.stringify(ajv.errors));
    assert.ok(ajv.validateSchema(templateSchema), JSON.stringify(ajv.errors));
  });
});

function cond(): any {
  return { fact: 'profile', path: '$.traits.city', operator: 'equal', value: 'Shanghai' };
}

describe('the entry rule, said one way', () => {
  const flat = (text: string) => text.replace(/\s+/g, ' ');
  const doc = (steps: unknown[]) =>
    ({
      id: 'j',
      version: 1,
      name: 'J',
      trigger: { type: 'event', event: 'visit' },
      steps,
    }) as JourneyDefinition;

  it("a valid journey's note names its send channels and the rule; one without a send step has no condition", () => {
    assert.equal(
      journeyNote(
        doc([
          {
            id: 'a',
            type: 'send',
            channel: 'sms',
            template: 'sms_t',
            fallback: { channel: 'email', template: 'email_t' },
          },
        ]),
      ),
      `sends on sms, email; ${ENTRY_RULE}`,
    );
    assert.equal(journeyNote(doc([{ id: 't', type: 'tag', add: ['x'] }])), NO_SEND_ENTRY_RULE);
  });

  it('the docs and the schema say it in the same words', () => {
    const read = (path: string) => flat(readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8'));
    for (const text of [
      read('docs/journeys.md'),
      read('docs/decisions.md'),
      flat(journeySchema.properties.entry.description),
    ]) {
      assert.ok(text.includes(`${ENTRY_RULE}.`));
      assert.ok(text.includes(`${NO_SEND_ENTRY_RULE}.`));
    }
  });
});
