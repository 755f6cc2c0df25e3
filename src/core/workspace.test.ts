import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PHASES, formatOutage, nextAction, phaseAfterOutage } from './workspace.ts';

test('desired running provisions until the runtime is really up', () => {
  for (const phase of PHASES) {
    assert.equal(nextAction('running', phase, false), 'provision', phase);
  }
  assert.equal(nextAction('running', 'running', true), 'none');
  // A phase that claims running but a dead runtime (e.g. container removed) is re-provisioned.
  assert.equal(nextAction('running', 'running', false), 'provision');
});

test('desired stopped stops whatever still runs', () => {
  assert.equal(nextAction('stopped', 'stopped', false), 'none');
  assert.equal(nextAction('stopped', 'stopped', true), 'stop');
  assert.equal(nextAction('stopped', 'provisioning', false), 'stop');
  assert.equal(nextAction('stopped', 'failed', false), 'stop');
});

test('desired deleted destroys from every phase but deleted', () => {
  for (const phase of PHASES) {
    for (const running of [true, false]) {
      assert.equal(nextAction('deleted', phase, running), phase === 'deleted' ? 'none' : 'destroy');
    }
  }
});

test('after an outage the phase shown before it is resumed, so interrupted work is redone and running stays running', () => {
  const since = new Date().toISOString();
  assert.equal(phaseAfterOutage({ since, phase: 'running' }), 'running');
  assert.equal(nextAction('running', phaseAfterOutage({ since, phase: 'running' }), true), 'none');
  assert.equal(nextAction('running', phaseAfterOutage({ since, phase: 'provisioning' }), true), 'provision');
  assert.equal(nextAction('deleted', phaseAfterOutage({ since, phase: 'running' }), true), 'destroy');
  assert.equal(phaseAfterOutage(undefined), 'pending');
});

test('outage durations read like 2m13s', () => {
  assert.equal(formatOutage(133_400), '2m13s');
  assert.equal(formatOutage(9_000), '9s');
  assert.equal(formatOutage(3_780_000), '1h03m');
});
