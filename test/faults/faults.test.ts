/**
 * The fault-injection suite: a random sequence of lifecycle operations (create, write a file, stop,
 * start, delete, commit and push) on shell, docker and agent workspaces, interleaved with faults
 * (kill -9 of the control plane, the Docker engine unreachable and back, kill -9 of the agent
 * daemon, a container removed behind Berth's back). After each fault everything must converge and
 * every running workspace still hold its files; at the end every file written must still be there
 * and every push upstream, and nothing may be left without a workspace row. The seed is fixed
 * unless BERTH_FAULT_SEED is set (a number, or `random`), and printed with the results on one line,
 * so a failure can be replayed. BERTH_FAULT_OPS sets the length; BERTH_FAULT_AGENT=0 leaves the agent out.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { WITH_AGENT } from './agent-host.ts';
import { World, type Provisioner } from './world.ts';

const FIXED_SEED = 20261130;
const SEED = process.env.BERTH_FAULT_SEED === 'random' ? Math.floor(Math.random() * 2 ** 31) : Number(process.env.BERTH_FAULT_SEED ?? FIXED_SEED);
const OPS = Number(process.env.BERTH_FAULT_OPS ?? 100);
/** Workspaces alive at once, so a sequence stays within minutes on a small machine. */
const MAX_LIVE = 4;

/** One step of a sequence; `n` picks the workspace among the live ones when it runs. */
type Step =
  | { kind: 'create'; provisioner: Provisioner }
  | { kind: 'write' | 'stop' | 'start' | 'delete' | 'push' | 'rm-f'; n: number }
  | { kind: 'kill9' | 'agent-kill' }
  | { kind: 'outage'; killDuring: boolean };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('create' as const), provisioner: fc.constantFrom<Provisioner[]>(...(WITH_AGENT ? (['shell', 'dk', 'ag'] as const) : (['shell', 'dk'] as const))) }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('write' as const), n: fc.nat(99) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('stop' as const, 'start' as const), n: fc.nat(99) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), n: fc.nat(99) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('push' as const), n: fc.nat(99) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rm-f' as const), n: fc.nat(99) }) },
  { weight: 1, arbitrary: fc.record({ kind: WITH_AGENT ? fc.constantFrom('kill9' as const, 'agent-kill' as const) : fc.constant('kill9' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('outage' as const), killDuring: fc.boolean() }) },
);

let world: World | undefined;
after(async () => {
  await world?.close();
});

async function apply(w: World, s: Step): Promise<void> {
  // A step whose target does not exist (yet) creates one instead, so every step does something.
  const target = 'n' in s ? w.pick(s.n, s.kind === 'rm-f' ? 'dk' : undefined) : undefined;
  if (s.kind === 'create' || ('n' in s && !target)) {
    if (w.live().length >= MAX_LIVE) {
      const m = w.pick(s.kind === 'create' ? 0 : s.n)!;
      return w.setDesired(m, 'deleted');
    }
    return w.create(s.kind === 'create' ? s.provisioner : 'dk');
  }
  switch (s.kind) {
    case 'write':
      return w.write(target!);
    case 'push':
      return w.push(target!);
    case 'stop':
      return w.setDesired(target!, 'stopped');
    case 'start':
      return w.setDesired(target!, 'running');
    case 'delete':
      return w.setDesired(target!, 'deleted');
    case 'rm-f':
      return w.removeContainer(target!);
    case 'kill9':
      return w.kill9();
    case 'agent-kill':
      return w.killAgent();
    case 'outage':
      return w.outage(s.killDuring);
  }
}

test('random lifecycle operations under faults lose no file, leave no orphan and converge', { timeout: 900_000 }, async () => {
  const log = (line: string) => process.stderr.write(`  ${line}\n`);
  const w = await World.create(log);
  world = w;
  const steps = fc.sample(fc.array(stepArb, { minLength: OPS, maxLength: OPS }), { seed: SEED, numRuns: 1 })[0]!;
  process.stderr.write(`fault suite: seed ${SEED} (replay with BERTH_FAULT_SEED=${SEED}), ${OPS} operations\n`);
  const lost: string[] = [];
  let orphans: string[] = [];
  try {
    for (const s of steps) {
      w.tally.ops++;
      await apply(w, s);
      // After a fault, everything must settle again before the next step.
      if (s.kind === 'kill9' || s.kind === 'agent-kill' || s.kind === 'outage' || s.kind === 'rm-f') {
        log(`converged in ${await w.converge()} ms`);
        lost.push(...(await w.checkRunning()));
      }
    }
    log(`sequence done; converged in ${await w.converge()} ms`);
    lost.push(...(await w.checkFiles()));
    orphans = await w.orphans();
    await w.deleteAll();
    orphans.push(...(await w.orphans()).map((o) => `${o} (after deleting everything)`));
    w.tally.orphans = orphans.length;
  } catch (err) {
    const file = `${os.tmpdir()}/berth-faults-${SEED}.log`;
    fs.writeFileSync(file, w.server.logs);
    process.stderr.write(`the control plane's log: ${file}\n`);
    throw err;
  } finally {
    const t = w.tally;
    process.stdout.write(
      `fault suite: seed=${SEED} ops=${t.ops} faults=${t.faults} files-checked=${t.filesChecked} files-lost=${t.filesLost} orphans=${t.orphans} longest-converge=${(t.longestConvergeMs / 1000).toFixed(1)}s\n`,
    );
  }
  assert.deepEqual(lost, [], 'files lost');
  assert.deepEqual(orphans, [], 'orphans left');
});
