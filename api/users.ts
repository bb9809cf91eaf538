import express, { type Router } from 'express';
import { HISTORY_LIMIT, type Store } from '../ports/store.ts';
import { profileKeyForAnonymous, profileKeyForUser } from '../model/profile.ts';
import { type KeyRing, requireScope } from './auth.ts';
import { InputError } from '../model/input-error.ts';
import { eventView, profileView } from './profile-view.ts';
import { replay } from '../lifecycle/timeline.ts';
import type { Workspace } from '../workspace/workspace.ts';
import type { Profile } from '../model/profile.ts';

/** What erasing a user reaches beyond the store's own records. */
export interface Erasure {
  /** Before the store forgets the profile: if it fails, the profile is still there to erase again. */
  before?(profileKey: string, profile: Profile): Promise<unknown>;
  /** Once the store forgot it: copies the process keeps on disk (the embedded journal and snapshots). */
  after?(profileKey: string, profile: Profile): Promise<unknown>;
}

/** The store key for an id given in a URL: a user id, or an anonymous id (followed to its user if linked). */
export async function resolveKey(store: Store, id: string): Promise<string | null> {
  const userKey = profileKeyForUser(id);
  const anonymousKey = profileKeyForAnonymous(id);
  const [profiles, aliases] = await Promise.all([
    store.getProfiles([userKey, anonymousKey]),
    store.getAliases([id]),
  ]);
  if (profiles.has(userKey)) return userKey;
  const linked = aliases.get(id);
  if (linked && (await store.getProfiles([profileKeyForUser(linked)])).size > 0)
    return profileKeyForUser(linked);
  return profiles.has(anonymousKey) ? anonymousKey : null;
}

export function userRoutes(
  keys: KeyRing,
  store: Store,
  workspace?: () => Workspace,
  now: () => number = Date.now,
  erasure: Erasure = {},
): Router {
  const router = express.Router();

  router.get('/v1/users/:id', requireScope(keys, 'read'), async (req, res) => {
    const limit = req.query.limit === undefined ? 50 : Number(req.query.limit);
    if (!Number.isInteger(limit) || limit < 0 || limit > 1000) {
      throw InputError.invalid([{ pointer: '/query/limit', message: 'must be an integer from 0 to 1000' }]);
    }
    const id = String(req.params.id);
    const key = await resolveKey(store, id);
    const profile = key ? (await store.getProfiles([key])).get(key) : undefined;
    if (!key || !profile) throw new InputError(404, 'not_found', `no user or anonymous visitor '${id}'`);
    // The user's own calls by default; `include=internal` adds what the engine recorded about them
    // (segment_entered, tag_added, lifecycle_changed...) in the same newest-first timeline.
    const internal = req.query.include === 'internal';
    const recent = await store.recentEvents(key, internal ? limit : limit * 4 + 100);
    const events = (internal ? recent : recent.filter((e) => e.type !== 'internal')).slice(0, limit);
    res.json({ profile: profileView(profile), events: events.map(eventView) });
  });

  // The user's lifecycle moves, oldest first, read from the lifecycle_changed events in their history.
  router.get('/v1/users/:id/lifecycle', requireScope(keys, 'read'), async (req, res) => {
    const id = String(req.params.id);
    const key = await resolveKey(store, id);
    const profile = key ? (await store.getProfiles([key])).get(key) : undefined;
    if (!key || !profile) throw new InputError(404, 'not_found', `no user or anonymous visitor '${id}'`);
    const moves = (await store.recentEvents(key, HISTORY_LIMIT))
      .filter((e) => e.type === 'internal' && e.event === 'lifecycle_changed')
      .reverse()
      .map((e) => ({
        from: e.properties?.from ?? null,
        to: e.properties?.to ?? null,
        at: new Date(e.timestamp).toISOString(),
      }));
    const { lifecycle } = profileView(profile);
    // `history` is every move as it was announced; `implied` what the user's activity, as known now,
    // implies. They differ when events arrive out of order (an import of old events, a late
    // batch): a move announced before an earlier event arrived stays announced, but is not implied.
    const implied =
      workspace && profile.activity
        ? replay(profile.activity, now(), workspace().lifecycle).history.map((m) => ({
            from: m.from,
            to: m.to,
            at: new Date(m.at).toISOString(),
          }))
        : undefined;
    res.json({
      state: lifecycle?.state ?? null,
      since: lifecycle?.since ?? null,
      history: moves,
      ...(implied ? { implied } : {}),
    });
  });

  router.delete('/v1/users/:id', requireScope(keys, 'manage'), async (req, res) => {
    const id = String(req.params.id);
    const key = await resolveKey(store, id);
    const profile = key === null ? undefined : (await store.getProfiles([key])).get(key);
    const missing = () => new InputError(404, 'not_found', `no user or anonymous visitor '${id}'`);
    if (key === null || !profile) throw missing();
    await erasure.before?.(key, profile);
    if (!(await store.eraseProfile(key))) throw missing();
    await erasure.after?.(key, profile);
    res.json({ deleted: true });
  });
  return router;
}
