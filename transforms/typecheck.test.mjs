// The TypeScript transforms type-check against the SDK's typings
// (guest-sdk/js/src/index.d.ts): esbuild only strips types, so this is where a
// wrong type in a port, or typings that drifted from the SDK, show up.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const tsc = fileURLToPath(new URL('../guest-sdk/js/node_modules/.bin/tsc', import.meta.url));
const project = fileURLToPath(new URL('.', import.meta.url));

test('the TypeScript transforms type-check', { skip: !existsSync(tsc) && 'no tsc in guest-sdk/js/node_modules' }, () => {
  const run = spawnSync(tsc, ['-p', project], { encoding: 'utf8' });
  assert.equal(run.status, 0, `tsc -p transforms:\n${run.stdout}${run.stderr}`);
});
