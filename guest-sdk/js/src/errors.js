// The errors a transform throws for a whole call, mirroring the WIT `error`
// variant, and how any thrown value becomes that variant.

const KIND = Symbol.for('ingot.error.kind');

/** Base class of the three call errors; `kind` is the WIT case. */
export class TransformError extends Error {
  constructor(message, kind, options) {
    super(String(message), options);
    Object.defineProperty(this, KIND, { value: kind });
  }

  /** The WIT `error` case: `invalid-config`, `invalid-input` or `failed`. */
  get kind() {
    return this[KIND];
  }
}

/** The stage configuration is unusable (a missing or malformed key). */
export class InvalidConfig extends TransformError {
  constructor(message, options) {
    super(message, 'invalid-config', options);
    this.name = 'InvalidConfig';
  }
}

/**
 * The input batch is not what the transform expects (a missing column, a
 * wrong type): a pipeline wiring problem, not a bad row.
 */
export class InvalidInput extends TransformError {
  constructor(message, options) {
    super(message, 'invalid-input', options);
    this.name = 'InvalidInput';
  }
}

/**
 * The call failed, with a message written for the operator. Unlike any other
 * thrown value, which also becomes `failed`, it is reported without a stack.
 */
export class Failed extends TransformError {
  constructor(message, options) {
    super(message, 'failed', options);
    this.name = 'Failed';
  }
}

const CASES = new Set(['invalid-config', 'invalid-input', 'failed']);

/**
 * The WIT `error` value for anything thrown by the transform:
 * `InvalidConfig` / `InvalidInput` / `Failed` become their case with their
 * message; a `{ tag, val }` variant (or a jco `ComponentError` carrying one
 * as `payload`) passes through; anything else is `failed` with the thrown
 * value's own text: `Name: message` and the stack trace.
 */
export function toWitError(thrown) {
  try {
    const kind = thrown != null && typeof thrown === 'object' ? thrown[KIND] : undefined;
    if (CASES.has(kind)) return { tag: kind, val: safeString(thrown.message) };
    const variant = asVariant(thrown) ?? asVariant(ownPayload(thrown));
    if (variant) return variant;
    return { tag: 'failed', val: describeThrown(thrown) };
  } catch (inner) {
    // A value whose getters throw: say so rather than trap.
    return { tag: 'failed', val: `a value was thrown that cannot be described (${safeString(inner)})` };
  }
}

function ownPayload(value) {
  return value != null && typeof value === 'object' && Object.prototype.hasOwnProperty.call(value, 'payload')
    ? value.payload
    : undefined;
}

function asVariant(value) {
  if (value == null || typeof value !== 'object' || value instanceof Error) return undefined;
  if (CASES.has(value.tag) && typeof value.val === 'string') return { tag: value.tag, val: value.val };
  return undefined;
}

// ---- describing a thrown value ----------------------------------------

const STACK_REWRITER = Symbol.for('ingot.stack.rewrite');
// The SDK calls the author's code through a function of this name; frames
// from it on (the SDK wrapper and the component glue) are noise and cut off.
export const CALL_MARKER = 'ingotCallsTheTransform';

/**
 * The text of a thrown value for the `failed` message: for an Error its
 * `name: message`, its stack (frames mapped back to the sources when the
 * build embedded a line table) and its `cause` chain; for anything else,
 * what was thrown.
 */
export function describeThrown(value, depth = 0) {
  if (isErrorLike(value)) {
    const name = safeString(value.name || 'Error');
    const message = safeString(value.message ?? '');
    const header = message ? `${name}: ${message}` : name;
    let stack = typeof value.stack === 'string' ? value.stack : '';
    const rewrite = globalThis[STACK_REWRITER];
    if (typeof rewrite === 'function') stack = rewrite(stack);
    stack = cutAtMarker(stack);
    let text;
    if (stack.startsWith(header)) {
      text = stack.trimEnd(); // V8 puts the header first
    } else {
      // SpiderMonkey: one `function@file:line:column` per line and no
      // header; shown as V8 does, `at function (file:line:column)`.
      const frames = stack
        .split('\n')
        .map((line) => line.trim())
        .filter(Boolean)
        .map((line) => {
          const at = line.indexOf('@');
          if (at === -1) return `    at ${line}`;
          const fn = line.slice(0, at);
          const where = line.slice(at + 1);
          return fn ? `    at ${fn} (${where})` : `    at ${where}`;
        });
      text = [header, ...frames].join('\n');
    }
    if (Array.isArray(value.errors) && value.errors.length > 0 && depth < 4) {
      value.errors.forEach((inner, i) => {
        text += `\n  [${i}] ${indent(describeThrown(inner, depth + 1))}`;
      });
    }
    if (value.cause !== undefined && depth < 4) {
      text += `\nCaused by: ${describeThrown(value.cause, depth + 1)}`;
    }
    return text;
  }
  return `${describeValue(value)} was thrown (not an Error, so there is no stack trace)`;
}

function isErrorLike(value) {
  return (
    value instanceof Error ||
    (value != null && typeof value === 'object' && typeof value.stack === 'string' && 'message' in value)
  );
}

function cutAtMarker(stack) {
  const lines = stack.split('\n');
  const at = lines.findIndex((line) => line.includes(CALL_MARKER));
  return at === -1 ? stack : lines.slice(0, at).join('\n');
}

function indent(text) {
  return text.split('\n').join('\n      ');
}

/**
 * A short, safe description of any JS value, for messages that say what was
 * returned or thrown: `undefined`, `null`, `the string "x"`, `the number 42`,
 * `an array of 3 items`, `a Promise`, `an object with keys a, b`, ...
 */
export function describeValue(value) {
  try {
    if (value === undefined) return 'undefined';
    if (value === null) return 'null';
    switch (typeof value) {
      case 'string':
        return `the string ${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value)}`;
      case 'number':
        return `the number ${value}`;
      case 'bigint':
        return `the bigint ${value}n`;
      case 'boolean':
        return `the boolean ${value}`;
      case 'symbol':
        return `the symbol ${String(value)}`;
      case 'function':
        return `a function${value.name ? ` (${value.name})` : ''}`;
      default:
        break;
    }
    if (Array.isArray(value)) return `an array of ${value.length} item${value.length === 1 ? '' : 's'}`;
    if (typeof value.then === 'function') return 'a Promise';
    const ctor = Object.getPrototypeOf(value)?.constructor?.name;
    if (ctor && ctor !== 'Object') return `a ${ctor}`;
    const keys = Object.keys(value);
    if (keys.length === 0) return 'an empty object';
    const shown = keys.slice(0, 6).join(', ');
    return `an object with key${keys.length === 1 ? '' : 's'} ${shown}${keys.length > 6 ? ', ...' : ''}`;
  } catch {
    return 'a value';
  }
}

function safeString(value) {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
