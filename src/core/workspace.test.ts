import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PHASES, nextAction } from './workspace.ts';

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
