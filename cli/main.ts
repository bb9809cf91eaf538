import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, DEV_KEYS, ENVIRONMENT, loadConfig, type Mode } from './config.ts';
import { startEngine } from './engine.ts';
import { createLogger } from './log.ts';
import { refuseUnsafeProduction } from './production.ts';

const environmentHelp = `\nEnvironment:\n${ENVIRONMENT.map(([name, def, what]) => `  ${name.padEnd(28)} ${what} (default: ${def})`).join('\n')}\n`;

/** Runs a start-up check; a ConfigError it throws ends the process with its message (exit 2). */
async function refuse(check: () => Promise<void>): Promise<void> {
  try {
    await check();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`tideline: ${error.message}\n`);
    process.exit(2);
  }
}

async function run(mode: Mode): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(mode);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`tideline: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  if (mode !== 'embedded') await refuse(() => refuseUnsafeProduction(config, process.env, logger));
  const roles = { api: mode !== 'worker', worker: mode !== 'api' };
  const engine = await startEngine(config, roles, logger);

  if (engine.url) {
    const lines = [
      `Tideline ${mode === 'embedded' ? '(embedded)' : 'API'} is running at ${engine.url}`,
      `Console (journeys, sends, reports; 中文/English): ${engine.url}/console/`,
    ];
    if (config.devKeys.length > 0) {
      lines.push(
        'Development keys (set TIDELINE_WRITE_KEY / TIDELINE_READ_KEY / TIDELINE_ADMIN_KEY in production):',
      );
      if (config.devKeys.includes('TIDELINE_WRITE_KEY')) lines.push(`  write (ingest): ${DEV_KEYS.write}`);
      if (config.devKeys.includes('TIDELINE_READ_KEY')) lines.push(`  read:           ${DEV_KEYS.read}`);
      if (config.devKeys.includes('TIDELINE_ADMIN_KEY')) lines.push(`  admin (manage): ${DEV_KEYS.admin}`);
      lines.push(
        'These keys are public: the embedded mode is for trying Tideline; `tideline api` and `tideline worker` refuse to start with them.',
      );
    }
    const readKey = config.devKeys.includes('TIDELINE_READ_KEY') ? DEV_KEYS.read : '<read key>';
    lines.push(`Try: curl -u ${readKey}: ${engine.url}/v1/users/${engine.demoUserId ?? '<userId>'}`);
    process.stderr.write(`\n${lines.join('\n')}\n\n`);
  }

  let signals = 0;
  const shutdown = (signal: string) => {
    signals++;
    if (signals > 1) process.exit(1);
    logger.info({ signal }, 'shutting down: draining in-flight work');
    engine.stop().then(
      () => {
        logger.info({}, 'stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

const program = new Command('tideline')
  .description('Rules-driven marketing automation: journeys, segments, lifecycle and multi-channel sends.')
  .addHelpText('after', environmentHelp);

program
  .command('start')
  .description(
    'run the API and a worker in one process (embedded: in-memory store snapshotted to ./data, demo workspace loaded)',
  )
  .action(() => run('embedded'));
program
  .command('api')
  .description('run an API process (production: Redis store or MongoDB, BullMQ queues); run any number')
  .action(() => run('api'));
program
  .command('worker')
  .description('run a worker process that applies queued events; run any number')
  .action(() => run('worker'));

program
  .command('validate')
  .description(
    'check workspace files (segments, tag rules, lifecycle, journeys, templates, conditions); prints every fault as file:line:column: JSON pointer: message',
  )
  .argument('<paths...>', 'files, or folders searched for .json files')
  .action(async (paths: string[]) => {
    const { validateFiles } = await import('./validate.ts');
    const { formatFault } = await import('../workspace/document-text.ts');
    let reports: Awaited<ReturnType<typeof validateFiles>>;
    try {
      reports = await validateFiles(paths);
    } catch (error) {
      process.stderr.write(`tideline validate: ${(error as Error).message}\n`);
      process.exit(2);
    }
    let faults = 0;
    for (const { file, kind, faults: found, note } of reports) {
      for (const f of found) process.stdout.write(`${formatFault(file, f)}\n`);
      if (found.length === 0) process.stdout.write(`${file}: ok (${kind}${note ? `; ${note}` : ''})\n`);
      faults += found.length;
    }
    process.stdout.write(`${reports.length} file(s), ${faults} fault(s)\n`);
    process.exitCode = faults > 0 ? 1 : 0;
  });

program
  .command('simulate')
  .description(
    'replay an event stream through journeys on a virtual clock; prints per-user timelines and totals',
  )
  .requiredOption('--journey <file...>', 'journey file(s) to simulate (validated first)')
  .option('--events <file>', 'NDJSON of Segment messages, each with a timestamp')
  .option(
    '--from-store',
    'backtest: replay the calls a running Tideline kept (its published segments and templates apply; nothing is sent or changed)',
    false,
  )
  .option(
    '--since <when>',
    'with --from-store: from (ISO 8601 date-time, or a duration back from now)',
    'P30D',
  )
  .option('--until <date>', 'with --from-store: until (ISO 8601; default: now)')
  .option(
    '--url <url>',
    'with --from-store: the Tideline API',
    `http://127.0.0.1:${process.env.PORT ?? 3000}`,
  )
  .option('--key <key>', 'with --from-store: the admin key (default: TIDELINE_ADMIN_KEY)')
  .option(
    '--workspace <dir>',
    "workspace folder whose segments, tag rules, templates and lifecycle apply (default: the journey file's)",
  )
  .option('--from <date>', 'replay from (ISO 8601; default: the first message)')
  .option('--to <date>', 'replay until (ISO 8601; default: 7 days after the last message)')
  .option('--users <n>', 'timelines to print', positiveInt, 20)
  .option(
    '--workers <n>',
    'threads to replay on, users split between them (default: one per core for 20,000 messages or more)',
    positiveInt,
  )
  .option('--json', 'print the whole result as JSON', false)
  .addHelpText(
    'after',
    '\nExamples:\n  tideline simulate --journey fixtures/workspace/journeys/cart_abandonment.json --events fixtures/sample-events.ndjson --users 3\n  tideline simulate --journey fixtures/workspace/journeys/cart_abandonment.json --from-store --since P30D --key dev-admin-key   (with `npm start` running)\n',
  )
  .action(async (options: import('./simulate.ts').SimulateOptions) => {
    const { runSimulate } = await import('./simulate.ts');
    const key = options.key ?? process.env.TIDELINE_ADMIN_KEY;
    process.exitCode = await runSimulate(
      { ...options, ...(key ? { key } : {}) },
      process.stdout,
      process.stderr,
    );
  });

program
  .command('import')
  .description(
    'take in history from an NDJSON file of Segment messages: profiles, segments and lifecycle are built as of the end, no journey reacts and nothing is sent for the past',
  )
  .argument('<file>', 'NDJSON, one Segment message per line, each with a timestamp')
  .option('--url <url>', 'the Tideline API', `http://127.0.0.1:${process.env.PORT ?? 3000}`)
  .option('--key <key>', 'the admin key (default: TIDELINE_ADMIN_KEY)')
  .option('--until <date>', 'history ends here (ISO 8601; default: now); later messages are applied live')
  .option('--batch <n>', 'messages per request at most (whole users)', positiveInt, 5000)
  .addHelpText(
    'after',
    '\nExample (with `npm start` running):\n  tideline import fixtures/sample-events.ndjson --key dev-admin-key\n',
  )
  .action(async (file: string, options: { url: string; key?: string; until?: string; batch: number }) => {
    const { runImport } = await import('./import.ts');
    const key = options.key ?? process.env.TIDELINE_ADMIN_KEY;
    if (!key) {
      process.stderr.write('tideline import: give the admin key with --key or TIDELINE_ADMIN_KEY\n');
      process.exit(2);
    }
    process.exitCode = await runImport(
      file,
      { ...options, key, progress: process.stderr.isTTY === true },
      process.stdout,
      process.stderr,
    );
  });

program
  .command('migrate')
  .description(
    'move a deployment on one Redis (REDIS_URL or --from) to the Redis Cluster of REDIS_CLUSTER_NODES: profiles, history, aliases, timers, definitions, report counters, channel state; stop every API and worker first',
  )
  .option('--from <url>', 'the single Redis to move from (default: REDIS_URL)')
  .option('--page <n>', 'profiles per step', positiveInt, 200)
  .addHelpText(
    'after',
    '\nIdempotent and resumable: run it again after an interruption and it continues where it stopped;\n' +
      'a run over a finished move changes nothing. TIDELINE_PREFIX, TIDELINE_EVENT_RETENTION and\n' +
      "TIDELINE_DEDUPE_HORIZON must be the deployment's own.\n\nExample:\n" +
      '  REDIS_URL=redis://10.0.0.9:6379 REDIS_CLUSTER_NODES=10.0.0.1:6379,10.0.0.2:6379 tideline migrate\n',
  )
  .action(async (options: { from?: string; page: number }) => {
    const { runMigrate } = await import('./migrate.ts');
    let config: ReturnType<typeof loadConfig>;
    try {
      config = loadConfig('worker');
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      process.stderr.write(`tideline migrate: ${error.message}\n`);
      process.exit(2);
    }
    process.exitCode = await runMigrate(
      config,
      { ...options, progress: process.stderr.isTTY === true },
      process.stdout,
      process.stderr,
    );
  });

const fixtures = program.command('fixtures').description('demo and benchmark data');
fixtures
  .command('generate')
  .description('write a seeded, realistic e-commerce / mini-program event stream as NDJSON (Segment format)')
  .option('--users <n>', 'number of users', positiveInt, 1000)
  .option('--days <n>', 'number of days', positiveInt, 30)
  .option('--seed <seed>', 'random seed (same seed, same stream)', '42')
  .option('--start <date>', 'first day (ISO date)', '2026-10-01')
  .requiredOption('--out <file>', 'output file (.ndjson)')
  .action(async (options: { users: number; days: number; seed: string; start: string; out: string }) => {
    const { writeStream } = await import('../fixtures/generate.ts');
    let last = 0;
    const count = await writeStream(
      { users: options.users, days: options.days, seed: options.seed, start: options.start },
      options.out,
      (done: number) => {
        if (done - last >= 100_000) {
          last = done;
          process.stderr.write(`\r${done.toLocaleString('en')} messages`);
        }
      },
    );
    process.stderr.write(`\rwrote ${String(count ?? last)} messages to ${options.out}\n`);
  });

await program.parseAsync(process.argv);
