// The host interface `ingot:transform/host@0.1.0` for transforms run in Node
// by testing.mjs: bundled in place of the component's import, it forwards
// to the Harness making the current call.

const CURRENT = Symbol.for('ingot.testing.host');

function harness() {
  const current = globalThis[CURRENT];
  if (!current) throw new Error('the host was called outside an init or process call');
  return current;
}

export function log(level, message) {
  if (!['trace', 'debug', 'info', 'warn', 'error'].includes(level)) {
    throw new TypeError(`"${level}" is not one of the cases of level`);
  }
  if (typeof message !== 'string') throw new TypeError('expected a string');
  harness().logs.push([level, message]);
}

export function processingTime() {
  return harness().processingTime;
}
