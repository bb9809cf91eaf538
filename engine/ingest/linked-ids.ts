import { idOf } from './parse.ts';

/** Every profile key a message names: as a user, as an anonymous visitor (an alias's previousId may be either). */
export function idsOf(userId: unknown, anonymousId: unknown, previousId: unknown): string[] {
  const ids: string[] = [];
  const user = idOf(userId);
  const anonymous = idOf(anonymousId);
  const previous = idOf(previousId);
  if (user !== undefined) ids.push(`u:${user}`);
  if (anonymous !== undefined) ids.push(`a:${anonymous}`);
  if (previous !== undefined) ids.push(`u:${previous}`, `a:${previous}`);
  return ids;
}

/**
 * Ids linked by messages (an identify's anonymous and user ids, an alias) fall into one group: the
 * messages of a group must be applied together, in time order, to land on one profile as they would
 * have live (union-find).
 */
export class LinkedIds {
  private readonly parent = new Map<string, string>();

  /** Links every id a message names. */
  link(ids: readonly string[]): void {
    for (let i = 1; i < ids.length; i++) {
      const a = this.root(ids[0]);
      const b = this.root(ids[i]);
      if (a !== b) this.parent.set(a, b);
    }
  }

  /** The group's representative id. */
  root(id: string): string {
    let root = id;
    for (let up = this.parent.get(root); up !== undefined && up !== root; up = this.parent.get(root))
      root = up;
    if (root !== id) this.parent.set(id, root);
    return root;
  }
}

/** Items (messages) in groups of linked ids, in order of first appearance; an item naming no id is a group of its own. */
export function linkedGroups<T>(items: readonly T[], idsOf: (item: T) => string[]): T[][] {
  const linked = new LinkedIds();
  for (const item of items) linked.link(idsOf(item));
  const groups = new Map<string | T, T[]>();
  for (const item of items) {
    const ids = idsOf(item);
    const root = ids.length > 0 ? linked.root(ids[0]) : item;
    let group = groups.get(root);
    if (!group) groups.set(root, (group = []));
    group.push(item);
  }
  return [...groups.values()];
}

/**
 * Items (messages) in chunks of whole groups of linked ids, each chunk at most `max` items (a bigger
 * group goes alone); an item naming no id is a group of its own.
 */
export function linkedChunks<T>(items: readonly T[], idsOf: (item: T) => string[], max: number): T[][] {
  const chunks: T[][] = [];
  let chunk: T[] = [];
  for (const group of linkedGroups(items, idsOf)) {
    if (chunk.length > 0 && chunk.length + group.length > max) {
      chunks.push(chunk);
      chunk = [];
    }
    chunk.push(...group);
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}
