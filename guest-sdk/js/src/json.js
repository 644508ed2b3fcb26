// JSON exactly as the Rust transforms read and print it (serde_json 1.0,
// default features plus `raw_value`, as the workspace builds it).
//
// `JSON.parse` cannot be used where a JS port must agree with a Rust one row
// for row: it turns every number into a double (`42`, `42.0` and `4.2e1` are
// the same value, and integers past 2^53 lose digits), accepts lone UTF-16
// surrogates and any nesting depth, and reads `1e400` as Infinity. serde_json
// keeps integers exact, refuses the rest, and prints floats its own way. So:
//
// - `parseJson(textOrBytes)` accepts exactly what `serde_json::from_str::<Value>`
//   accepts and builds the same value: `null`, booleans, strings, arrays,
//   objects (plain objects without a prototype; a repeated key keeps its last
//   value), integers as BigInt (serde_json's u64 / i64: a number written
//   without fraction or exponent that fits), every other number as a double,
//   computed with serde_json's own (not always correctly rounded) algorithm.
//   `-0` is the float -0.0, as in serde_json. Errors are `JsonError`s with
//   serde_json's message, line and (byte) column.
// - `toJson(value)` prints a value as serde_json's `Display` does: compact,
//   object keys sorted in byte order (serde_json's default map is a
//   BTreeMap), floats always with a `.` or an exponent (`1.0`, `1e+20`).
//
// Byte positions and the UTF-8 validation follow Rust, so a port can even
// reproduce serde_json's error text.
//
// The code: json/parse.js, json/print.js, json/errors.js, json/utf8.js.

export { JsonError } from './json/errors.js';
export { decodeUtf8, utf8Error } from './json/utf8.js';
export { parseJson } from './json/parse.js';
export { compareUtf8, formatFloat, toJson } from './json/print.js';
