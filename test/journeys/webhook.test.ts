import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, it } from 'node:test';
import type { JourneyDefinition } from '../../journeys/journey.ts';
import { journeyEngine } from './helpers.ts';

const T0 = Date.parse('2026-03-02T02:00:00Z');
const seen: { user: string; key: string }[] = [];
/** A CRM that answers each user differently: ann at once, bob after a 503, cai never. */
const answers: Record<string, number[]> = { ann: [200], bob: [503, 200], cai: [500, 500, 500] };
const server = createServer(async (req: IncomingMessage, res) => {
  let raw = '';
  for await (const chunk of req) raw += String(chunk);
  const body = JSON.parse(raw) as { userId: string };
  seen.push({ user: body.userId, key: String(req.headers['idempotency-key']) });
  const status = answers[body.userId].shift() ?? 500;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(status === 200 ? { member: { level: 'gold' } } : { error: 'busy' }));
});
let url = '';
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/crm`;
});
after(() => server.close());

it('webhook steps POST with retries and an idempotency key; the answer sets traits a branch reads', async () => {
  const journey: JourneyDefinition = {
    id: 'crm_sync',
    version: 1,
    name: 'Ask the CRM, then greet',
    trigger: { type: 'event', event: 'signed_up' },
    steps: [
      {
        id: 'ask',
        type: 'webhook',
        url,
        retries: 1,
        timeout: 'PT2S',
        setTraits: { level: '$.member.level' },
      },
      {
        id: 'which',
        type: 'branch',
        branches: [
          {
            condition: { fact: 'profile', path: '$.traits.level', operator: 'equal', value: 'gold' },
            next: 'gold',
          },
        ],
        else: 'plain',
      },
      { id: 'gold', type: 'send', channel: 'sandbox', template: 'gold', next: 'end' },
      { id: 'plain', type: 'send', channel: 'sandbox', template: 'plain' },
      { id: 'end', type: 'exit', reason: 'greeted' },
    ],
  };
  const e = await journeyEngine({ journeys: [journey] }, T0);
  await e.send(
    ['ann', 'bob', 'cai'].map((userId) => ({
      type: 'track',
      userId,
      event: 'signed_up',
      messageId: `signup-${userId}`,
      timestamp: new Date(T0).toISOString(),
    })),
  );
  await e.clock.advanceTo(T0 + 60_000);
  const steps = async (user: string) =>
    (await e.log(user)).map((l) =>
      `${l.event} ${l.properties?.step} ${l.properties?.action ?? ''} ${l.properties?.status ?? ''}`.trim(),
    );
  assert.deepEqual(await steps('ann'), [
    'journey_entered ask',
    'journey_step ask webhook 200',
    'journey_step which reached',
    'journey_step which branch',
    'journey_step gold reached',
    'message_sent gold send sandbox',
    'journey_step end reached',
    'journey_exited end',
  ]);
  assert.deepEqual((await steps('bob')).slice(0, 3), [
    'journey_entered ask',
    'journey_step ask webhook_retry:1 503',
    'journey_step ask webhook 200',
  ]);
  assert.deepEqual((await steps('cai')).slice(0, 4), [
    'journey_entered ask',
    'journey_step ask webhook_retry:1 500',
    'journey_step ask webhook_failed 500',
    'journey_step which reached',
  ]);
  assert.ok((await steps('cai')).includes('message_sent plain send sandbox'));
  const profiles = await e.store.getProfiles(['u:ann', 'u:cai']);
  assert.equal(profiles.get('u:ann')!.traits.level, 'gold');
  assert.equal(profiles.get('u:cai')!.traits.level, undefined);
  // Every attempt of one visit carries the same key: the receiver can drop repeats.
  assert.deepEqual(
    seen.filter((s) => s.user === 'bob').map((s) => s.key),
    ['crm_sync:signup-bob:ask:1', 'crm_sync:signup-bob:ask:1'],
  );
  assert.equal(seen.filter((s) => s.user === 'cai').length, 2, 'one call and one retry');
  await e.close();
});
