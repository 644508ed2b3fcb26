#!/usr/bin/env node
// Builds a JavaScript or TypeScript transform into an ingot WebAssembly
// component.
//
//   node guest-sdk/js/build.mjs <source-dir> <out.wasm>
//
// <source-dir> holds the transform: its entry is `index.ts`, `index.js`,
// `index.mts` or `index.mjs`, or the `main` of its package.json. The entry
// exports `transform = defineTransform({...})` from `@ingot/sdk`.
//
// 1. esbuild bundles the entry with apache-arrow and the SDK into one ES
//    module (`@ingot/sdk` is guest-sdk/js/src/index.js; TypeScript types are
//    stripped, not checked; `ingot:transform/*` stays an import, the host's).
// 2. A line table mapping the bundle back to the sources is appended, so a
//    stack trace in a `failed` error names `log-parse/js/index.ts:42:7`.
// 3. ComponentizeJS (StarlingMonkey) builds the component against
//    guest-sdk/wit, world `stage`, with every optional WASI feature disabled:
//    the component imports only `ingot:transform/host` (and `types`).
//
// Prints the output path on stdout and progress on stderr; exits non-zero
// with a message naming the source folder when anything fails.
//
// Packages (esbuild, apache-arrow, componentize-js) come from
// guest-sdk/js/node_modules: `npm ci` there, or a link to an installed copy.

import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { cp, mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const SDK_DIR = dirname(fileURLToPath(import.meta.url));
export const SDK_ENTRY = join(SDK_DIR, 'src', 'index.js');
export const NODE_MODULES = join(SDK_DIR, 'node_modules');
export const WIT_DIR = resolve(SDK_DIR, '..', 'wit');
export const WORLD = 'stage';
export const HOST_MODULE = 'ingot:transform/host@0.1.0';
// Every optional StarlingMonkey feature: no stdio, clocks, randomness or
// HTTP, so the component needs nothing but the ingot host interface.
export const DISABLED_FEATURES = ['stdio', 'random', 'clocks', 'http', 'fetch-event'];

const ENTRY_NAMES = ['index.ts', 'index.js', 'index.mts', 'index.mjs'];

/** A build failure: `message` is for the person running the build. */
export class BuildError extends Error {
  constructor(message) {
    super(message);
    this.name = 'BuildError';
  }
}

/**
 * The folder a transform is named by: `sourceDir`, or the folder above it
 * when `sourceDir` is the transform's JavaScript version
 * (`transforms/log-parse/js` is log-parse), so bundles and stack traces name
 * the transform, not the language.
 */
export function transformDir(sourceDir) {
  const dir = resolve(sourceDir);
  return basename(dir) === 'js' ? dirname(dir) : dir;
}

/** The entry file of the transform in `sourceDir`. */
export function findEntry(sourceDir) {
  const dir = resolve(sourceDir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new BuildError(`${sourceDir}: not a directory`);
  }
  const manifest = join(dir, 'package.json');
  if (existsSync(manifest)) {
    let main;
    try {
      main = JSON.parse(readFileSync(manifest, 'utf8')).main;
    } catch (e) {
      throw new BuildError(`${sourceDir}: cannot read package.json: ${e.message}`);
    }
    if (main !== undefined) {
      const entry = resolve(dir, main);
      if (!existsSync(entry)) throw new BuildError(`${sourceDir}: package.json names main \`${main}\`, which does not exist`);
      return entry;
    }
  }
  for (const name of ENTRY_NAMES) {
    const entry = join(dir, name);
    if (existsSync(entry)) return entry;
  }
  throw new BuildError(
    `${sourceDir}: no transform entry: expected ${ENTRY_NAMES.join(', ')} or a package.json with \`main\``,
  );
}

async function load(name) {
  try {
    return await import(name);
  } catch (e) {
    if (e?.code === 'ERR_MODULE_NOT_FOUND') {
      throw new BuildError(
        `cannot load \`${name}\` from ${NODE_MODULES}: install the JS toolchain there (\`npm ci\` in ${SDK_DIR}, or link node_modules to an installed copy)`,
      );
    }
    throw e;
  }
}

/**
 * Bundles the transform in `sourceDir` into one ES module. Returns
 * `{ code, name }`: the module text (with the source line table appended)
 * and the bundle's file name (`<transform>.js`, as stack traces show it:
 * see `transformDir`).
 *
 * `options.hostModule`: a file to bundle in place of the host import (the
 * Node test harness uses a stub); `options.bundleName`: another file name;
 * `options.outDir`: where the bundle will be written (for source paths).
 */
export async function bundle(sourceDir, options = {}) {
  const entry = findEntry(sourceDir);
  const esbuild = await load('esbuild');
  const name = options.bundleName ?? `${basename(transformDir(sourceDir))}.js`;
  const alias = { '@ingot/sdk': SDK_ENTRY };
  const plugins = [];
  if (options.hostModule) {
    const stub = resolve(options.hostModule);
    plugins.push({
      name: 'ingot-host-stub',
      setup(build) {
        build.onResolve({ filter: /^ingot:transform\// }, () => ({ path: stub }));
      },
    });
  }
  let result;
  try {
    result = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'neutral',
      target: 'es2022',
      mainFields: ['module', 'main'],
      conditions: ['import'],
      alias,
      nodePaths: [realpathOr(NODE_MODULES)],
      external: options.hostModule ? [] : ['ingot:transform/*'],
      plugins,
      outfile: join(options.outDir ?? tmpdir(), name),
      metafile: true,
      sourcemap: 'external',
      sourcesContent: false,
      legalComments: 'none',
      logLevel: 'silent',
      // Keep `process.env.NODE_ENV` checks in libraries from reaching for `process`.
      define: { 'process.env.NODE_ENV': '"production"' },
    });
  } catch (e) {
    const messages = (e.errors ?? []).map(formatMessage);
    throw new BuildError(
      `${sourceDir}: bundling ${shown(entry)} failed:\n${messages.join('\n') || e.message}`,
    );
  }
  for (const warning of result.warnings) process.stderr.write(`warning: ${formatMessage(warning)}\n`);
  const js = result.outputFiles.find((f) => f.path.endsWith('.js'));
  const exported = Object.values(result.metafile.outputs).find((o) => o.entryPoint)?.exports ?? [];
  if (!exported.includes('transform')) {
    throw new BuildError(
      `${sourceDir}: ${shown(entry)} does not export \`transform\` ` +
        `(write \`export const transform = defineTransform({ process(table) { ... } })\`)`,
    );
  }
  const map = result.outputFiles.find((f) => f.path.endsWith('.map'));
  let code = js.text.replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n');
  if (map) code += lineTableSource(JSON.parse(map.text), name, dirname(js.path), transformDir(sourceDir));
  return { code, name, entry };
}

function formatMessage(m) {
  const where = m.location ? `${shown(resolve(m.location.file))}:${m.location.line}:${m.location.column + 1}: ` : '';
  return `  ${where}${m.text}`;
}

// A path as messages show it: relative to the working directory when inside it.
function shown(path) {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !rel.startsWith(sep) ? rel : path;
}

function realpathOr(path) {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

// ---- the source line table ---------------------------------------------

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Decodes a source map's `mappings` into per-line [genCol, src, line, col] segments. */
export function decodeMappings(mappings) {
  const lines = [];
  let src = 0;
  let line = 0;
  let col = 0;
  for (const text of mappings.split(';')) {
    const segments = [];
    let genCol = 0;
    for (const segment of text.split(',')) {
      if (!segment) continue;
      const fields = [];
      let value = 0;
      let shift = 0;
      for (const ch of segment) {
        const digit = BASE64.indexOf(ch);
        value += (digit & 31) << shift;
        if (digit & 32) {
          shift += 5;
        } else {
          fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      genCol += fields[0];
      if (fields.length >= 4) {
        src += fields[1];
        line += fields[2];
        col += fields[3];
        segments.push([genCol, src, line, col]);
      }
    }
    lines.push(segments);
  }
  return lines;
}

/** Encodes per-line [genCol, src, line, col] segments as a source map's `mappings`. */
export function encodeMappings(lines) {
  const vlq = (n) => {
    let v = n < 0 ? (-n << 1) | 1 : n << 1;
    let out = '';
    do {
      let digit = v & 31;
      v >>>= 5;
      if (v > 0) digit |= 32;
      out += BASE64[digit];
    } while (v > 0);
    return out;
  };
  let src = 0;
  let line = 0;
  let col = 0;
  return lines
    .map((segments) => {
      let genCol = 0;
      return segments
        .map(([g, s, l, c]) => {
          const text = vlq(g - genCol) + vlq(s - src) + vlq(l - line) + vlq(c - col);
          [genCol, src, line, col] = [g, s, l, c];
          return text;
        })
        .join(',');
    })
    .join(';');
}

// Appends a table from bundle positions to source positions, and installs
// the stack rewriter the SDK's error mapping calls. Code outside
// node_modules (the transform and the SDK) keeps every segment and maps to
// `file:line:column`; library code keeps only which file each run of bundle
// lines came from, and maps to `node_modules/<file> (bundle <name>:line:col)`.
// The table is a string (source-map VLQ) decoded on the first error: as an
// object literal it would cost megabytes of the component's heap snapshot.
// A transform's own files are named from its `transformDir`'s parent.
function lineTableSource(map, bundleName, outDir, transform) {
  const names = map.sources.map((source) => {
    const path = resolve(outDir, source);
    if (path.startsWith(SDK_DIR + sep) && !path.includes(`${sep}node_modules${sep}`)) {
      return `@ingot/sdk/${relative(SDK_DIR, path).split(sep).join('/')}`;
    }
    const modules = path.lastIndexOf(`${sep}node_modules${sep}`);
    if (modules !== -1) return path.slice(modules + 1).split(sep).join('/');
    return relative(dirname(transform), path).split(sep).join('/');
  });
  const isLibrary = names.map((n) => n.startsWith('node_modules/'));
  const ranges = []; // [first bundle line, src] of each run of library lines (-1: not library)
  const kept = decodeMappings(map.mappings).map((segments, i) => {
    if (segments.length === 0) return segments;
    const src = segments[0][1];
    const last = ranges.length > 0 ? ranges[ranges.length - 1][1] : -1;
    if (isLibrary[src]) {
      if (last !== src) ranges.push([i + 1, src]);
      return [];
    }
    if (last !== -1) ranges.push([i + 1, -1]);
    return segments;
  });
  const data = { sources: names, ranges: ranges.flat(), mappings: encodeMappings(kept) };
  return `
;(() => {
  const table = ${JSON.stringify(JSON.stringify(data))};
  const BASE64 = ${JSON.stringify(BASE64)};
  let map;
  const load = () => {
    if (map) return map;
    const { sources, ranges, mappings } = JSON.parse(table);
    const lines = [];
    let src = 0, line = 0, col = 0;
    for (const text of mappings.split(';')) {
      const segments = [];
      let genCol = 0;
      for (const segment of text ? text.split(',') : []) {
        const f = [];
        let value = 0, shift = 0;
        for (let i = 0; i < segment.length; i++) {
          const digit = BASE64.indexOf(segment[i]);
          value += (digit & 31) << shift;
          if (digit & 32) shift += 5;
          else { f.push(value & 1 ? -(value >>> 1) : value >>> 1); value = 0; shift = 0; }
        }
        genCol += f[0]; src += f[1]; line += f[2]; col += f[3];
        segments.push([genCol, src, line, col]);
      }
      lines.push(segments);
    }
    return (map = { sources, ranges, lines });
  };
  const frame = /([^\\s(@]*?)${escapeRegExp(bundleName)}:(\\d+):(\\d+)/g;
  // One rewriter per bundle name (a module loaded again replaces its own).
  const maps = (globalThis[Symbol.for('ingot.stack.maps')] ??= new Map());
  globalThis[Symbol.for('ingot.stack.rewrite')] = (stack) => [...maps.values()].reduce((s, rewrite) => rewrite(s), stack);
  maps.set(${JSON.stringify(bundleName)}, (stack) =>
    stack.replace(frame, (whole, prefix, lineText, columnText) => {
      const { sources, ranges, lines } = load();
      const col = Number(columnText) - 1;
      const segments = lines[Number(lineText) - 1];
      if (segments && segments.length > 0) {
        let best = segments[0];
        for (const s of segments) if (s[0] <= col) best = s;
        return sources[best[1]] + ':' + (best[2] + 1) + ':' + (best[3] + 1 + Math.max(0, col - best[0]));
      }
      let src = -1;
      for (let i = 0; i < ranges.length && ranges[i] <= Number(lineText); i += 2) src = ranges[i + 1];
      return src === -1 ? whole : sources[src] + ' (bundle ' + whole.slice(prefix.length) + ')';
    }));
})();
`;
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---- componentizing ----------------------------------------------------

/**
 * Builds the component of an ES module bundle (`code`, named `name` in
 * stack traces). Runs ComponentizeJS in a child process whose stdout goes to
 * our stderr, so the module's top-level output cannot reach our stdout.
 */
export async function componentizeBundle(code, name, outPath, sourceDir) {
  const work = await mkdtemp(join(tmpdir(), 'ingot-js-'));
  try {
    const source = join(work, name);
    await writeFile(source, code);
    // ComponentizeJS reads the WIT through a WASI filesystem that may only
    // see the working directory: give it a copy there.
    await cp(WIT_DIR, join(work, 'wit'), { recursive: true });
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--componentize', source, outPath], {
      cwd: work,
      stdio: ['ignore', 2, 'pipe'],
      encoding: 'utf8',
    });
    if (child.error) throw new BuildError(`${sourceDir}: cannot run componentize: ${child.error.message}`);
    if (child.status !== 0) {
      const detail = (child.stderr || '').trim() || `exit status ${child.status ?? child.signal}`;
      throw new BuildError(`${sourceDir}: componentize failed:\n${detail}`);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

// The child: componentize one file. cwd is the file's folder (with a copy
// of the WIT), so the component knows the bundle by its bare name.
async function componentizeChild(source, outPath) {
  const { componentize } = await load('@bytecodealliance/componentize-js');
  let component;
  try {
    ({ component } = await componentize({
      sourcePath: basename(source),
      witPath: 'wit',
      worldName: WORLD,
      disableFeatures: DISABLED_FEATURES,
    }));
  } catch (e) {
    process.stderr.write(`${e?.message ?? e}\n`);
    process.exit(1);
  }
  await mkdir(dirname(outPath), { recursive: true });
  await writeFile(outPath, component);
}

/** Bundles and componentizes the transform in `sourceDir` into `outPath`. */
export async function build(sourceDir, outPath, { progress = () => {} } = {}) {
  const out = resolve(outPath);
  const started = Date.now();
  const { code, name, entry } = await bundle(sourceDir);
  progress(`bundled ${shown(entry)} (${(code.length / 1024).toFixed(0)} KiB) in ${Date.now() - started} ms`);
  const componentizing = Date.now();
  await componentizeBundle(code, name, out, sourceDir);
  const size = (await readFile(out)).length;
  progress(`componentized in ${((Date.now() - componentizing) / 1000).toFixed(1)} s: ${(size / 1024 / 1024).toFixed(1)} MiB`);
  return out;
}

async function main(argv) {
  if (argv[0] === '--componentize') return componentizeChild(argv[1], argv[2]);
  if (argv.length !== 2 || argv[0].startsWith('-')) {
    process.stderr.write('usage: node guest-sdk/js/build.mjs <source-dir> <out.wasm>\n');
    process.exit(2);
  }
  const [sourceDir, outPath] = argv;
  try {
    const out = await build(sourceDir, outPath, { progress: (m) => process.stderr.write(`${sourceDir}: ${m}\n`) });
    process.stdout.write(`${out}\n`);
  } catch (e) {
    process.stderr.write(`error: ${e instanceof BuildError ? e.message : `${sourceDir}: ${e?.stack ?? e}`}\n`);
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathOr(process.argv[1])).href) {
  await main(process.argv.slice(2));
}
