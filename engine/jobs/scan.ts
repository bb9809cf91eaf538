import type { Profile } from '../../model/profile.ts';
import type { ScanFilter, Store } from '../../ports/store.ts';

const PAGE = 500;

/** Every profile (or a segment's members), a page at a time, in the store's scan order. */
export async function* profilePages(store: Store, filter: ScanFilter = {}): AsyncGenerator<Profile[]> {
  let cursor: string | null = null;
  do {
    const page = await store.scanProfiles(cursor, PAGE, filter);
    yield page.profiles;
    cursor = page.cursor;
  } while (cursor !== null);
}
