/**
 * Every word the console shows exists in both languages: each label the console's code asks for
 * (`t('…')`, `fill('…')`) is in the English and the Chinese dictionary, both dictionaries have the
 * same labels, and every value of the engine's vocabularies (step types, lifecycle stages,
 * channels, journey states, skip and exit reasons) has its words in both.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { STEP_TYPES, TRIGGER_TYPES } from '../../journeys/journey.ts';
import type { JourneyRunState } from '../../journeys/journey-set.ts';
import { CONTACT_CHANNELS, SEND_CHANNELS } from '../../model/channels.ts';
import { LIFECYCLE_STAGES } from '../../model/lifecycle.ts';
// @ts-expect-error: the console's plain JavaScript has no declaration file for the root project.
import { DICT } from '../../web/i18n.js';
// @ts-expect-error: as above.
import { TERMS } from '../../web/terms.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WEB = join(ROOT, 'web');

type Dictionary = Record<string, string>;
const dict = DICT as { en: Dictionary; zh: Dictionary };
const terms = TERMS as Record<'en' | 'zh', Record<string, Dictionary>>;

/** The console's source files (views included). */
function webFiles(dir = WEB): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? webFiles(join(dir, entry.name))
      : entry.name.endsWith('.js')
        ? [join(dir, entry.name)]
        : [],
  );
}

it('has every label in English and in Chinese, none left empty', () => {
  assert.deepEqual(Object.keys(dict.zh).sort(), Object.keys(dict.en).sort());
  for (const lang of ['en', 'zh'] as const)
    for (const [label, text] of Object.entries(dict[lang]))
      assert.ok(text.trim() !== '', `${lang}.${label} is empty`);
});

it('knows every label the console asks for', () => {
  const used = new Set<string>();
  for (const file of webFiles())
    for (const match of readFileSync(file, 'utf8').matchAll(/\b(?:t|fill)\(\s*'([A-Za-z0-9_]+)'/g))
      used.add(match[1]);
  assert.ok(used.size > 50, 'the labels were found');
  const missing = [...used].filter((label) => !(label in dict.en) || !(label in dict.zh));
  assert.deepEqual(missing, []);
});

it('says in both languages every step type, lifecycle stage, channel, trigger and journey state', () => {
  const states: JourneyRunState['state'][] = ['running', 'paused', 'stopped'];
  const vocabularies: [string, readonly string[]][] = [
    ['stepType', STEP_TYPES],
    ['lifecycle', LIFECYCLE_STAGES],
    ['channel', [...SEND_CHANNELS, ...CONTACT_CHANNELS]],
    ['trigger', TRIGGER_TYPES],
    ['journeyState', states],
    ['enrollmentState', ['active', 'exited']],
    ['eventType', ['track', 'identify', 'page', 'screen', 'alias', 'group', 'internal']],
  ];
  for (const [kind, values] of vocabularies)
    for (const lang of ['en', 'zh'] as const)
      for (const value of values) assert.ok(terms[lang][kind][value], `${lang} ${kind} '${value}'`);
});

it('says in both languages every reason the engine gives for a skip, a deferral or an exit', () => {
  // The reasons are literals where the journey walk and the dispatcher decide them.
  const reasons = new Set<string>();
  for (const file of ['channels/dispatcher.ts', 'journeys/walk.ts', 'journeys/runtime.ts']) {
    const source = readFileSync(join(ROOT, file), 'utf8');
    for (const match of source.matchAll(/reason: '([a-z_]+)'/g)) reasons.add(match[1]);
    for (const match of source.matchAll(/return '(no_[a-z_]+)'/g)) reasons.add(match[1]);
  }
  assert.ok(reasons.has('no_consent') && reasons.has('frequency_capped'), 'the reasons were found');
  for (const lang of ['en', 'zh'] as const)
    assert.deepEqual(
      [...reasons].filter((r) => !terms[lang].reason[r]),
      [],
      `${lang} reasons without words`,
    );
  assert.deepEqual(Object.keys(terms.zh.reason).sort(), Object.keys(terms.en.reason).sort());
});
