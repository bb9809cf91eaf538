import assert from 'node:assert/strict';
import { it } from 'node:test';
import { validateTagRule } from '../../segments/tag-rule.ts';

it('reports every fault of a tag rule file with its JSON pointer', () => {
  const { rule, faults } = validateTagRule({
    id: 'ok',
    version: 1,
    name: 'Bad rule',
    conditions: { all: [{ fact: 'event', path: '$.name', operator: 'equalz', value: 'x' }] },
    event: { type: 'add_tag', params: { tags: [] } },
    extra: true,
  });
  assert.equal(rule, undefined);
  const pointers = faults.map((f) => f.pointer).sort();
  for (const p of ['/conditions/all/0/operator', '/event/type', '/event/params/tags', '/extra']) {
    assert.ok(pointers.includes(p), `expected a fault at ${p}: ${JSON.stringify(faults)}`);
  }
});

it('accepts a rule that reads the event, as json-rules-engine rule objects do', () => {
  const { faults } = validateTagRule({
    id: 'big_ticket',
    version: 1,
    name: 'Big ticket',
    priority: 5,
    conditions: {
      all: [{ fact: 'event', path: '$.properties.amount', operator: 'greaterThan', value: 2000 }],
    },
    event: { type: 'add_tags', params: { tags: ['big_ticket'] } },
  });
  assert.deepEqual(faults, []);
});
