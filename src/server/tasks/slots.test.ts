import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Slots } from './slots.ts';

test('no more than `size` holders at once, and waiters get slots in the order they asked', async () => {
  const slots = new Slots(2);
  let holding = 0;
  let most = 0;
  const order: number[] = [];
  await Promise.all(
    Array.from({ length: 7 }, async (_, i) => {
      await slots.acquire();
      order.push(i);
      most = Math.max(most, ++holding);
      await new Promise((r) => setImmediate(r));
      holding--;
      slots.release();
    }),
  );
  assert.equal(most, 2);
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6]);
});
