// `level-counts` in JavaScript: the gold stage of the application-log
// pipeline, a port of transforms/level-counts/rust/src/lib.rs that writes the
// same rows in the same order, rejects the same rows, and has the same schema.
//
// Reads the silver log table's Change Data Feed and emits, per `level` in the
// batch, how much the batch changes that level's row count and latency sum.
// The stage's output runs in `accumulate` mode keyed by `level`: the host adds
// these signed deltas to the gold table, so gold stays correct when silver
// rows are updated or deleted, without rescanning silver.
//
// An `insert` or `update_postimage` row counts +1 and adds its `latency_ms`;
// a `delete` or `update_preimage` row counts -1 and subtracts it. A null
// latency adds nothing; a null level is rejected. Levels whose deltas are both
// zero are left out. Levels come out in byte order of their UTF-8 (the order
// of the Rust stage's BTreeMap<&str>, not localeCompare's), and the sums wrap
// around at 64 bits as the Rust stage's release build does.

import {
  Int64,
  Utf8,
  buildTable,
  changeTypes,
  compareUtf8,
  defineTransform,
  field,
  int64Column,
  schema,
  sign,
  textColumn,
} from '@ingot/sdk';

/** The gold table: one row per level, its count and latency sum. */
export const GOLD_SCHEMA = schema([
  field('level', new Utf8(), false),
  field('count', new Int64(), false),
  field('latency_ms_sum', new Int64(), false),
]);

const wrap = (n) => BigInt.asIntN(64, n);

export const transform = defineTransform({
  process(input) {
    const changes = changeTypes(input);
    const levels = textColumn(input, 'level');
    const latency = int64Column(input, 'latency_ms');
    const deltas = new Map(); // level -> { count, sum }
    const rejected = [];
    changes.forEach((change, row) => {
      const level = levels[row];
      if (level === null) {
        rejected.push({ row, reason: '`level` is null' });
        return;
      }
      let delta = deltas.get(level);
      if (delta === undefined) {
        delta = { count: 0n, sum: 0n };
        deltas.set(level, delta);
      }
      const s = BigInt(sign(change));
      delta.count = wrap(delta.count + s);
      delta.sum = wrap(delta.sum + wrap(s * (latency[row] ?? 0n)));
    });
    const kept = [...deltas.entries()]
      .filter(([, d]) => d.count !== 0n || d.sum !== 0n)
      .sort(([a], [b]) => compareUtf8(a, b));
    const table = buildTable(GOLD_SCHEMA, {
      level: kept.map(([level]) => level),
      count: kept.map(([, d]) => d.count),
      latency_ms_sum: kept.map(([, d]) => d.sum),
    });
    return { table, rejected };
  },
});
