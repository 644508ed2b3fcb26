// build.mjs as a command: what it says when it cannot build. (Building for
// real is in component.test.mjs.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle, decodeMappings, encodeMappings } from '../build.mjs';

const BUILD = fileURLToPath(new URL('../build.mjs', import.meta.url));

async function folder(files) {
  const dir = await mkdtemp(join(tmpdir(), 'ingot-js-build-'));
  const src = join(dir, 'bad');
  await mkdir(src);
  for (const [name, text] of Object.entries(files)) await writeFile(join(src, name), text);
  return { dir, src };
}

function runBuild(src, out) {
  return spawnSync(process.execPath, [BUILD, src, out], { encoding: 'utf8' });
}

test('a folder without an entry is refused, naming the folder', async () => {
  const { dir, src } = await folder({ 'README.txt': 'nothing here' });
  const run = runBuild(src, join(dir, 'out.wasm'));
  assert.equal(run.status, 1);
  assert.equal(run.stdout, '');
  assert.equal(run.stderr, `error: ${src}: no transform entry: expected index.ts, index.js, index.mts, index.mjs or a package.json with \`main\`\n`);
  await rm(dir, { recursive: true });
});

test('a syntax error names the folder, the file and the line', async () => {
  const { dir, src } = await folder({ 'index.ts': 'export const transform = {\n  process(table) { return table; \n};\n' });
  const run = runBuild(src, join(dir, 'out.wasm'));
  assert.equal(run.status, 1);
  assert.equal(run.stdout, '');
  assert.equal(run.stderr, `error: ${src}: bundling ${src}/index.ts failed:\n  ${src}/index.ts:3:2: Expected "}" but found ";"\n`);
  await rm(dir, { recursive: true });
});

test('an entry without the transform export is refused before componentizing', async () => {
  const { dir, src } = await folder({ 'package.json': '{"main": "lib/main.js"}' });
  await mkdir(join(src, 'lib'));
  await writeFile(join(src, 'lib', 'main.js'), "export const transfrom = {};\n");
  const run = runBuild(src, join(dir, 'out.wasm'));
  assert.equal(run.status, 1);
  assert.match(run.stderr, /^error: .*bad: .*lib\/main\.js does not export `transform` \(write `export const transform = defineTransform/);
  await rm(dir, { recursive: true });
});

test('an unresolvable import is a bundling error', async () => {
  const { dir, src } = await folder({ 'index.js': "import { x } from 'left-pad';\nexport const transform = x;\n" });
  await assert.rejects(bundle(src), /bundling .*index\.js failed:\n .*index\.js:1:\d+: Could not resolve "left-pad"/);
  await rm(dir, { recursive: true });
});

test('source map mappings survive decoding and re-encoding', () => {
  const mappings = 'AAAA,SAAS;;IACP,GAAG;AACH,CAAC';
  assert.equal(encodeMappings(decodeMappings(mappings)), mappings);
});
