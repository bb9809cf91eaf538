import { randomBytes } from 'node:crypto';
import { after, it } from 'node:test';
import { MongoClient } from 'mongodb';
import { MongoDefinitionStore } from '../../engine/adapters/definitions/mongodb.ts';
import { definitionsConformance } from './conformance.ts';

const url = process.env.MONGO_URL;

if (url) {
  // Each store gets its own database, dropped afterwards. No transactions: a standalone server is enough.
  const client = new MongoClient(url);
  const run = randomBytes(4).toString('hex');
  let stores = 0;
  after(() => client.close());
  definitionsConformance('mongodb', async () => {
    const dbName = `tldef_${run}_${++stores}`;
    return {
      store: new MongoDefinitionStore({ client, dbName }),
      cleanup: async () => {
        await client.db(dbName).dropDatabase();
      },
    };
  });
} else {
  const reason = 'MongoDB definitions conformance skipped: MONGO_URL is not set';
  console.log(reason);
  it('mongodb definitions conformance', { skip: reason }, () => {});
}
