import { randomBytes } from 'node:crypto';
import { after, it } from 'node:test';
import { MongoClient } from 'mongodb';
import { MongoStore } from '../../engine/adapters/stores/mongodb.ts';
import { storeConformance } from './conformance.ts';

const url = process.env.MONGO_URL;

if (url) {
  // Needs a replica set (transactions); each store gets its own database, dropped afterwards.
  const client = new MongoClient(url);
  const run = randomBytes(4).toString('hex');
  let stores = 0;
  after(() => client.close());
  storeConformance('mongodb', async (options) => {
    const dbName = `tltest_${run}_${++stores}`;
    return {
      store: new MongoStore({ ...options, client, dbName }),
      cleanup: async () => {
        await client.db(dbName).dropDatabase();
      },
      // Every document of every collection.
      traces: async (needles) => {
        const db = client.db(dbName);
        const found: string[] = [];
        for (const { name } of await db.listCollections().toArray()) {
          for await (const doc of db.collection(name).find()) {
            const text = JSON.stringify(doc);
            for (const n of needles)
              if (text.includes(n)) found.push(`${name} ${String(doc._id)} holds ${n}`);
          }
        }
        return found;
      },
    };
  });
} else {
  const reason = 'MongoDB store conformance skipped: MONGO_URL is not set';
  console.log(reason);
  it('mongodb store conformance', { skip: reason }, () => {});
}
