/** Debian's chromium for the browser tests (through playwright-core), found on PATH. */
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export const CHROMIUM = (process.env.PATH ?? '')
  .split(delimiter)
  .map((dir) => join(dir, 'chromium'))
  .find((path) => existsSync(path));
/** For `describe(…, { skip })`: why the browser tests cannot run here, or false. */
export const NO_BROWSER = CHROMIUM ? false : 'chromium is not on PATH (CI installs Debian chromium)';
