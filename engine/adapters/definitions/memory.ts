import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { JsonObject } from '../../../model/json.ts';
import {
  changeStatus,
  type DefinitionKind,
  type DefinitionStore,
  type DefinitionSummary,
  type DefinitionVersion,
  liveOf,
  nextDraft,
  type PublishExpectation,
} from '../../../ports/definitions.ts';

export interface MemoryDefinitionStoreOptions {
  /** Where `definitions.json` is loaded from and written to after every change; in memory only when unset. */
  dataDir?: string;
}

interface DefinitionsFile {
  tideline: 'definitions';
  format: 1;
  versions: DefinitionVersion[];
}

/*
 * Versions are kept as JSON text: every read hands out a fresh copy and nothing a caller does to a
 * document it passed in or got back can change what is stored. Every change happens synchronously
 * before the first await, which is what makes publish atomic here.
 */
export class MemoryDefinitionStore implements DefinitionStore {
  readonly adapter = 'memory';
  /** kind -> id -> versions as JSON, index i holding version i + 1. */
  private readonly definitions = new Map<DefinitionKind, Map<string, string[]>>();
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly options: MemoryDefinitionStoreOptions = {}) {}

  async init(): Promise<void> {
    if (!this.options.dataDir) return;
    const file = join(this.options.dataDir, 'definitions.json');
    const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    });
    if (text === null) return;
    const saved = JSON.parse(text) as DefinitionsFile;
    if (saved.tideline !== 'definitions' || saved.format !== 1) {
      throw new Error(`${file} is not a Tideline definitions file`);
    }
    for (const v of saved.versions) this.versions(v.kind, v.id)[v.version - 1] = JSON.stringify(v);
  }

  async close(): Promise<void> {
    await this.writing;
  }

  async saveDraft(
    kind: DefinitionKind,
    id: string,
    document: JsonObject,
    now: number,
  ): Promise<DefinitionVersion> {
    const versions = this.versions(kind, id);
    const newest = versions.length > 0 ? parse(versions[versions.length - 1]) : null;
    return this.put(nextDraft(newest, kind, id, document, now));
  }

  async publish(
    kind: DefinitionKind,
    id: string,
    version: number,
    now: number,
    expected?: PublishExpectation,
  ): Promise<DefinitionVersion> {
    const current = this.read(kind, id, version);
    return this.put(changeStatus(current, { kind, id, version }, 'published', now, expected));
  }

  async archive(kind: DefinitionKind, id: string, version: number, now: number): Promise<DefinitionVersion> {
    const current = this.read(kind, id, version);
    return this.put(changeStatus(current, { kind, id, version }, 'archived', now));
  }

  async get(kind: DefinitionKind, id: string, version: number): Promise<DefinitionVersion | null> {
    return this.read(kind, id, version);
  }

  async live(kind: DefinitionKind, id: string): Promise<DefinitionVersion | null> {
    return liveOf(await this.history(kind, id));
  }

  async history(kind: DefinitionKind, id: string): Promise<DefinitionVersion[]> {
    return (this.definitions.get(kind)?.get(id) ?? []).map(parse);
  }

  async list(kind: DefinitionKind): Promise<DefinitionSummary[]> {
    const ids = [...(this.definitions.get(kind)?.keys() ?? [])].sort();
    return Promise.all(
      ids.map(async (id) => {
        const history = await this.history(kind, id);
        return { id, newest: history[history.length - 1], live: liveOf(history)?.version ?? null };
      }),
    );
  }

  private versions(kind: DefinitionKind, id: string): string[] {
    let ids = this.definitions.get(kind);
    if (!ids) this.definitions.set(kind, (ids = new Map()));
    let versions = ids.get(id);
    if (!versions) ids.set(id, (versions = []));
    return versions;
  }

  private read(kind: DefinitionKind, id: string, version: number): DefinitionVersion | null {
    const json = this.definitions.get(kind)?.get(id)?.[version - 1];
    return json === undefined ? null : parse(json);
  }

  /** Stores the version, then persists; resolves once the change is on disk. */
  private async put(version: DefinitionVersion): Promise<DefinitionVersion> {
    const json = JSON.stringify(version);
    this.versions(version.kind, version.id)[version.version - 1] = json;
    await this.persist();
    return parse(json);
  }

  /** Writes `<dataDir>/definitions.json` atomically (a temporary file renamed over it), one write at a time. */
  private persist(): Promise<void> {
    const dir = this.options.dataDir;
    if (!dir) return Promise.resolve();
    const written = this.writing.then(() => this.write(dir));
    this.writing = written.catch(() => {});
    return written;
  }

  private async write(dir: string): Promise<void> {
    const versions = [...this.definitions.values()].flatMap((ids) => [...ids.values()].flat());
    await mkdir(dir, { recursive: true });
    const file = join(dir, 'definitions.json');
    const temporary = `${file}.${process.pid}.tmp`;
    const handle = await open(temporary, 'w');
    try {
      await handle.write(`{"tideline":"definitions","format":1,"versions":[\n${versions.join(',\n')}\n]}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
  }
}

function parse(json: string): DefinitionVersion {
  return JSON.parse(json) as DefinitionVersion;
}
