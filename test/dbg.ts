import { generateStream } from '/work/main/fixtures/generate.ts';
const messages = [...generateStream({ users: 80, days: 21, seed: 11, start: '2026-10-20' })];
const u = messages.filter((m: any) => m.userId === 'u_000015' || (m.anonymousId && messages.some((x: any) => x.userId === 'u_000015' && x.anonymousId === m.anonymousId)));
for (const m of u.slice(0, 12)) console.log(m.timestamp, m.type, (m as any).event ?? '', JSON.stringify((m as any).traits ?? (m as any).properties ?? {}).slice(0, 150), (m as any).anonymousId ?? '');
