/**
 * The documentation holds together: every relative link in README.md, CONTRIBUTING.md and docs/*.md
 * leads to a file that exists and, with a `#anchor`, to a heading of that file; the README stays a
 * front door; and no page cites what a reader of the repository cannot open.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * Pages other branches add: links to them may not resolve yet. Remove each entry once its page is
 * merged (a link to a listed page that exists is checked like any other).
 */
const PENDING = new Set<string>();

const pages = (): string[] => [
  'README.md',
  'CONTRIBUTING.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];

/** The page's lines outside fenced code blocks, with their 1-based numbers. */
function prose(text: string): { line: string; n: number }[] {
  const out: { line: string; n: number }[] = [];
  let fence: string | null = null;
  text.split('\n').forEach((line, i) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker && (fence === null || (marker[0] === fence[0] && marker.length >= fence.length))) {
      fence = fence === null ? marker : null;
      return;
    }
    if (fence === null) out.push({ line, n: i + 1 });
  });
  return out;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen, repeats numbered. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const { line } of prose(text)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const plain = heading
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '')
      .replace(/[`*]/g, '');
    const slug = plain
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    out.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return out;
}

/** Every link target of a page outside code: inline links and images, and reference definitions. */
function links(text: string): { target: string; n: number }[] {
  const out: { target: string; n: number }[] = [];
  for (const { line, n } of prose(text)) {
    const outsideCode = line.replace(/`[^`]*`/g, '');
    for (const m of outsideCode.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
      out.push({ target: m[1], n });
    const definition = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$/.exec(outsideCode);
    if (definition) out.push({ target: definition[1], n });
  }
  return out;
}

/** What is wrong with one link of `page`, or null when it resolves. */
function fault(page: string, target: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) return null; // https:, mailto:
  const hash = target.indexOf('#');
  const path = decodeURIComponent(hash === -1 ? target : target.slice(0, hash)).replace(/\?.*$/, '');
  const anchor = hash === -1 ? null : decodeURIComponent(target.slice(hash + 1));
  const file = path === '' ? join(ROOT, page) : resolve(ROOT, dirname(page), path);
  const name = relative(ROOT, file).split('\\').join('/');
  if (name.startsWith('..')) return `${target} leaves the repository`;
  if (!existsSync(file)) return PENDING.has(name) ? null : `${target}: no file ${name}`;
  if (anchor === null || anchor === '') return null;
  if (statSync(file).isDirectory() || !name.endsWith('.md'))
    return `${target}: #${anchor} in a file that is not markdown`;
  return anchors(readFileSync(file, 'utf8')).has(anchor)
    ? null
    : `${target}: ${name} has no heading #${anchor}`;
}

it('every relative link in README.md, CONTRIBUTING.md and docs/*.md resolves, anchors included', (t) => {
  const faults: string[] = [];
  let checked = 0;
  for (const page of pages()) {
    const text = readFileSync(join(ROOT, page), 'utf8');
    for (const { target, n } of links(text)) {
      checked++;
      const problem = fault(page, target);
      if (problem) faults.push(`${page}:${n}: ${problem}`);
    }
  }
  for (const name of PENDING)
    if (existsSync(join(ROOT, name))) t.diagnostic(`${name} exists now: drop it from PENDING`);
  assert.ok(checked > 50, `only ${checked} links found: is the parser still reading the pages?`);
  assert.deepEqual(faults, []);
});

it('the checker catches a missing file and a missing heading', () => {
  assert.match(fault('README.md', 'docs/no-such-page.md') ?? '', /no file docs\/no-such-page\.md/);
  assert.match(fault('README.md', 'docs/decisions.md#no-such-heading') ?? '', /has no heading/);
  assert.equal(fault('docs/api.md', '#keys'), null);
  assert.equal(fault('docs/api.md', '../README.md#quick-start'), null);
  assert.equal(fault('README.md', 'https://example.com/x.md#nowhere'), null);
  if (!existsSync(join(ROOT, 'docs/architecture.md')))
    assert.equal(fault('README.md', 'docs/architecture.md#layout'), null, 'a pending page is tolerated');
  assert.match(fault('README.md', 'docs/architecture.txt') ?? '', /no file/, 'only the pending pages are');
  assert.deepEqual(
    [...anchors('# A `b` & C\n```\n# not a heading\n```\n## A b & c\n')],
    ['a-b--c', 'a-b--c-1'],
  );
});

it('the README stays a front door: at most 300 lines', () => {
  const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').trimEnd().split('\n').length;
  assert.ok(lines <= 300, `README.md has ${lines} lines; move reference material into docs/`);
});

it('no page cites what a reader of the repository cannot open (design sections, issue numbers)', () => {
  const faults: string[] = [];
  for (const page of pages()) {
    for (const { line, n } of prose(readFileSync(join(ROOT, page), 'utf8'))) {
      if (/\bDESIGN\b|\bissue #?\d+|\/work\/shared|shared\/specs|\bchannels\.md \d/i.test(line))
        faults.push(`${page}:${n}: ${line.trim()}`);
    }
  }
  assert.deepEqual(faults, []);
});
