// Test fixture: a JavaScript transform whose process throws a TypeError two
// frames down, so the stage error must carry the message and the stack.
import { defineTransform } from '@ingot/sdk';

function averageLatency(rows) {
  return rows[0].latency / rows.length; // rows is empty: rows[0] is undefined
}

export const transform = defineTransform({
  process() {
    return averageLatency([]);
  },
});
