import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BerthClient, ExecConnection, ExecHandlers } from '../sdk/client.ts';
import { describeRun, runBounded } from './exec.ts';

/** A fake exec: prints `out` at once, then ends with `code` when told to, or as killed on SIGKILL. */
function fakeApi(out: Buffer, opts: { code?: number; ignoreKill?: boolean } = {}): { api: BerthClient; stdin: Buffer[]; signals: string[] } {
  const stdin: Buffer[] = [];
  const signals: string[] = [];
  const api = {
    exec: (_ref: string, _start: unknown, h: ExecHandlers): ExecConnection => {
      const end = Promise.withResolvers<{ code: number | null; signal?: string }>();
      setImmediate(() => h.stdout(out));
      return {
        write: (d) => stdin.push(Buffer.from(d)),
        eof: () => (opts.code !== undefined ? setImmediate(() => end.resolve({ code: opts.code! })) : undefined),
        resize: () => undefined,
        signal: (s) => {
          signals.push(s);
          if (!opts.ignoreKill) end.resolve({ code: null, signal: s });
        },
        detach: () => end.reject(new Error('detached')),
        done: end.promise,
      };
    },
  } as unknown as BerthClient;
  return { api, stdin, signals };
}

test('output is cut at the bound and the text says how much was printed', async () => {
  const { api } = fakeApi(Buffer.alloc(1000, 'x'), { code: 0 });
  const r = await runBounded(api, 'w', ['x'], { timeoutMs: 5000, maxBytes: 100 });
  assert.deepEqual([r.code, r.stdout.length, r.stdoutBytes, r.timedOut], [0, 100, 1000, false]);
  assert.equal(describeRun(r, 5000), `exit code 0\n--- stdout ---\n${'x'.repeat(100)}\n[stdout truncated: 1000 bytes printed, the first 100 shown]`);
});

test('stdin goes in frames small enough for the exec socket', async () => {
  const { api, stdin } = fakeApi(Buffer.alloc(0), { code: 0 });
  await runBounded(api, 'w', ['cat'], { stdin: Buffer.alloc(600 * 1024), timeoutMs: 5000, maxBytes: 10 });
  assert.deepEqual(stdin.map((b) => b.length), [256 * 1024, 256 * 1024, 88 * 1024]);
});

test('a command past its timeout is killed and reported as timed out', async () => {
  const { api, signals } = fakeApi(Buffer.from('partial'));
  const r = await runBounded(api, 'w', ['sleep', '9'], { timeoutMs: 50, maxBytes: 100 });
  assert.deepEqual([r.timedOut, r.signal, signals], [true, 'SIGKILL', ['SIGKILL']]);
  assert.match(describeRun(r, 50), /^timed out after 0.05 s and was killed\n--- stdout ---\npartial$/);
});
