import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SERVE = fileURLToPath(new URL('./fakes/serve.ts', import.meta.url));

/** The provider fakes running in a child process (dev/fakes/serve.ts), as a deployment would see them. */
export interface FakesProcess {
  /** The environment that points a workspace's `channels.json` at them. */
  env: Record<string, string>;
  /** Messages each fake has taken so far, by channel (`sms`, `wechat`, `email`, `push`). */
  count(): Promise<Record<string, number>>;
  close(): void;
}

export async function forkFakes(args: string[] = []): Promise<FakesProcess> {
  const child = fork(SERVE, args, {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const env = await new Promise<Record<string, string>>((resolve, reject) => {
    child.once('message', (m: { type: string; env: Record<string, string> }) => resolve(m.env));
    child.once('exit', (code) => reject(new Error(`the fakes exited (${code})`)));
  });
  return {
    env,
    count: () =>
      new Promise((resolve) => {
        child.once('message', (m: { counts: Record<string, number> }) => resolve(m.counts));
        child.send({ type: 'count' });
      }),
    close: () => child.kill('SIGTERM'),
  };
}
