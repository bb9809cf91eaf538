/** `group` calls: the group's traits on the profile, read by segments (rules) and templates. */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { profileScope, renderContent } from '../../templates/render.ts';
import { applyMessage, newProfile } from '../../profiles/apply.ts';
import { KEYS, startTestEngine, type TestEngine } from '../../dev/engine.ts';
import type { TemplateDefinition } from '../../templates/template.ts';
import { validateTemplate } from '../../templates/validate.ts';

let t: TestEngine;
before(async () => {
  t = await startTestEngine();
});
after(() => t.close());

it('a segment reading a group trait is entered by the group call that sets it', async () => {
  const segment = {
    id: 'enterprise_accounts',
    name: 'Members of enterprise accounts',
    condition: {
      all: [{ fact: 'profile', path: '$.groups.acme.traits.plan', operator: 'equal', value: 'enterprise' }],
    },
  };
  assert.equal((await t.request('POST', '/v1/segments', { key: KEYS.admin, body: segment })).status, 201);
  const published = await t.request('POST', '/v1/segments/enterprise_accounts/versions/1/publish', {
    key: KEYS.admin,
  });
  assert.equal(published.status, 200);

  const send = (traits: object, at: string) =>
    t.request('POST', '/v1/g', { body: { userId: 'buyer', groupId: 'acme', traits, timestamp: at } });
  assert.equal((await send({ plan: 'free' }, '2026-11-20T10:00:00Z')).status, 200);
  await t.settle();
  let profile = (await t.request('GET', '/v1/users/buyer')).body.profile;
  assert.deepEqual(profile.segments, []);

  assert.equal((await send({ plan: 'enterprise' }, '2026-11-21T10:00:00Z')).status, 200);
  await t.settle();
  profile = (await t.request('GET', '/v1/users/buyer')).body.profile;
  assert.deepEqual(profile.segments, ['enterprise_accounts']);
  // An older group call arriving late does not undo the newer trait (last write wins by event time).
  assert.equal((await send({ plan: 'free' }, '2026-11-19T10:00:00Z')).status, 200);
  await t.settle();
  profile = (await t.request('GET', '/v1/users/buyer')).body.profile;
  assert.equal(profile.groups.acme.traits.plan, 'enterprise');
  assert.deepEqual(profile.segments, ['enterprise_accounts']);
});

it('a template reads a group trait', () => {
  const template = {
    id: 'renewal',
    version: 1,
    name: 'Renewal',
    channel: 'sms',
    content: {
      signName: '潮汐优选',
      templateCode: 'SMS_1',
      params: { company: '{{ profile.groups.acme.traits.name }}' },
    },
  };
  assert.deepEqual(validateTemplate(template).faults, []);
  const profile = newProfile('u:member', 'member');
  applyMessage(
    profile,
    {
      type: 'group',
      messageId: 'g1',
      userId: 'member',
      groupId: 'acme',
      traits: { name: 'Acme 有限公司' },
      timestamp: 1,
      receivedAt: 1,
    },
    { lateGraceMs: 86_400_000 },
  );
  const out = renderContent(template as unknown as TemplateDefinition, {
    profile: profileScope(profile),
    event: {},
    journey: {},
    message: { id: 'm1' },
    links: {},
  });
  assert.deepEqual((out as { params: object }).params, { company: 'Acme 有限公司' });
});
