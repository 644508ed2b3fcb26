// serde_json's error messages, as `JsonError`s (see ../json.js).

import { quote } from './print.js';

// ---- errors -------------------------------------------------------------

/** A JSON text serde_json refuses: `message` is serde_json's Display text. */
export class JsonError extends SyntaxError {
  constructor(code, line, column) {
    super(line === 0 ? code : `${code} at line ${line} column ${column}`);
    this.name = 'JsonError';
    this.code = code;
    this.line = line;
    this.column = column;
  }
}

export const E = {
  eofList: 'EOF while parsing a list',
  eofObject: 'EOF while parsing an object',
  eofString: 'EOF while parsing a string',
  eofValue: 'EOF while parsing a value',
  colon: 'expected `:`',
  listCommaOrEnd: 'expected `,` or `]`',
  objectCommaOrEnd: 'expected `,` or `}`',
  ident: 'expected ident',
  value: 'expected value',
  quote: 'expected `"`',
  escape: 'invalid escape',
  number: 'invalid number',
  range: 'number out of range',
  control: 'control character (\\u0000-\\u001F) found while parsing a string',
  keyString: 'key must be a string',
  loneSurrogate: 'lone leading surrogate in hex escape',
  trailingComma: 'trailing comma',
  trailing: 'trailing characters',
  hexEnd: 'unexpected end of hex escape',
  recursion: 'recursion limit exceeded',
};
