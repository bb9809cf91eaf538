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
