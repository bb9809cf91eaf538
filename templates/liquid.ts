/**
 * Message templates are LiquidJS (what Braze and Customer.io marketers write). One engine for the
 * process: strict variables, so a misspelt name is an error rather than an empty SMS parameter; a
 * profile trait the user does not have renders empty (templates/render.ts), unless it is marked
 * `| required` (the message then fails to render) or given `| default: "朋友"`; own properties only,
 * and a `track` filter that turns a link into this message's click-tracking redirect.
 */
import { Liquid, type FS } from 'liquidjs';

/** What a template may read: the roots and, for some, the fields below them. */
export const TEMPLATE_ROOTS: Readonly<Record<string, readonly string[] | null>> = {
  profile: [
    'userId',
    'traits',
    'tags',
    'segments',
    'lifecycle',
    'lifecycleSince',
    'createdAt',
    'lastSeenAt',
    'timezone',
    'bucket',
    'groups',
  ],
  event: ['name', 'properties', 'timestamp'],
  journey: ['id', 'version', 'name', 'step'],
  message: ['id', 'channel'],
  links: ['unsubscribe'],
};

/** Builds a click-tracking link for a target URL. */
export type TrackLink = (url: string) => string;

/** Carries the TrackLink in the render scope (`_track`): Liquid would call a bare function. */
export interface TrackHolder {
  link: TrackLink;
}

/** The longest text a template field may have (LiquidJS `parseLimit`, characters). */
export const PARSE_LIMIT = 100_000;
/**
 * What one render may allocate (LiquidJS `memoryLimit`: range sizes, string lengths built by
 * filters), so `{% for i in (1..100000000) %}` stops before it starts.
 */
export const MEMORY_LIMIT = 1_000_000;
/** How long all the texts of one template may take to render, in milliseconds. */
export const RENDER_LIMIT_MS = 100;

/** Tags that read other files: refused, a template is one self-contained document. */
export const FILE_TAGS = ['include', 'render', 'layout'] as const;

/** No file system: nothing a template names is ever read from the server's disk. */
const noFiles: FS = {
  exists: async () => false,
  existsSync: () => false,
  readFile: async (file: string) => {
    throw new Error(`templates cannot read files (${file})`);
  },
  readFileSync: (file: string) => {
    throw new Error(`templates cannot read files (${file})`);
  },
  resolve: (_root: string, file: string) => file,
  contains: async () => false,
  containsSync: () => false,
  sep: '/',
};

export const liquid = new Liquid({
  strictVariables: true,
  strictFilters: true,
  lenientIf: true,
  ownPropertyOnly: true,
  cache: 1000,
  fs: noFiles,
  root: [],
  partials: [],
  layouts: [],
  relativeReference: false,
  dynamicPartials: false,
  parseLimit: PARSE_LIMIT,
  memoryLimit: MEMORY_LIMIT,
  renderLimit: RENDER_LIMIT_MS,
});

for (const name of FILE_TAGS) {
  liquid.registerTag(name, {
    parse() {
      throw new Error(`{% ${name} %} is not allowed: a template cannot read other files`);
    },
    render() {
      return '';
    },
  });
}

liquid.registerFilter(
  'track',
  function (this: { context: { getSync(path: string[]): unknown } }, url: unknown) {
    const holder = this.context.getSync(['_track']) as TrackHolder | undefined;
    return holder && typeof url === 'string' ? holder.link(url) : url;
  },
);

/** Thrown by `| required` on a missing or empty value (render.ts names the variable). */
export class RequiredValueMissing extends Error {
  constructor() {
    super('a required value is missing');
  }
}

liquid.registerFilter('required', (value: unknown) => {
  if (value === undefined || value === null || value === '') throw new RequiredValueMissing();
  return value;
});

/** Every text of a template's content with its JSON pointer (nested objects included). */
export function contentTexts(content: unknown, pointer = '/content'): [pointer: string, text: string][] {
  const texts: [string, string][] = [];
  mapTexts(content, (text, at) => texts.push([at, text]), pointer);
  return texts;
}

/** The content with each text replaced by what `fn` makes of it; the shape is kept. */
export function mapTexts(
  content: unknown,
  fn: (text: string, pointer: string) => unknown,
  pointer = '/content',
): unknown {
  if (typeof content === 'string') return fn(content, pointer);
  if (content && typeof content === 'object' && !Array.isArray(content)) {
    return Object.fromEntries(
      Object.entries(content).map(([k, v]) => [k, mapTexts(v, fn, `${pointer}/${k}`)]),
    );
  }
  return content;
}
