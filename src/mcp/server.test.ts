import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError, type BerthClient } from '../sdk/client.ts';
import { callTool, checkArguments } from './server.ts';
import { TOOLS } from './tools.ts';

const byName = (name: string) => TOOLS.find((t) => t.name === name)!;
const signal = new AbortController().signal;
const textOf = (r: Awaited<ReturnType<typeof callTool>>) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('');

test('arguments are checked with the sentences the API gives for a body', () => {
  assert.equal(checkArguments(byName('get_workspace'), {}), 'Missing required field "ref".');
  assert.equal(checkArguments(byName('get_workspace'), { ref: 'w1', extra: 1 }), 'Unknown field "extra" in the arguments.');
  assert.equal(checkArguments(byName('get_workspace'), { ref: 'Not A Ref' }), 'ref is not a workspace reference: give its name, owner/name or id.');
  assert.match(checkArguments(byName('create_workspace'), { name: 'Bad_Name', project: 'p' })!, /^name is not a valid name: use 1 to 63 lowercase letters/);
  assert.equal(checkArguments(byName('wait_workspace'), { ref: 'w1', phase: 'gone' }), 'phase must be one of: running, stopped.');
  assert.equal(checkArguments(byName('exec'), { ref: 'w1', timeoutSeconds: 'soon' }), 'timeoutSeconds must be of type integer.');
  assert.equal(checkArguments(byName('exec'), { ref: 'w1', cmd: ['true'] }), undefined);
});

test('every tool has a description and an object input schema without TypeBox symbols on the wire', () => {
  const names = new Set<string>();
  for (const t of TOOLS) {
    assert.ok(!names.has(t.name), `duplicate ${t.name}`);
    names.add(t.name);
    assert.match(t.name, /^[a-z_]+$/);
    assert.ok(t.description.length > 20, t.name);
    assert.equal((JSON.parse(JSON.stringify(t.input)) as { type: string }).type, 'object', t.name);
  }
});

test("a refusal of the API is a tool error with the API's sentence; an unknown tool and a crash are tool errors without a stack", async () => {
  const refusing = { getWorkspace: () => Promise.reject(new ApiError(403, 'forbidden', 'You are not a member of project "p".')) } as unknown as BerthClient;
  const refused = await callTool(refusing, 'get_workspace', { ref: 'w1' }, signal);
  assert.deepEqual([refused.isError, textOf(refused)], [true, 'You are not a member of project "p".']);

  const unknown = await callTool(refusing, 'test_nothing', {}, signal);
  assert.deepEqual([unknown.isError, textOf(unknown)], [true, 'Unknown tool "test_nothing"; tools/list names the tools of this server.']);

  const crashing = { getWorkspace: () => Promise.reject(new TypeError('x is not a function')) } as unknown as BerthClient;
  const crashed = await callTool(crashing, 'get_workspace', { ref: 'w1' }, signal);
  assert.equal(crashed.isError, true);
  assert.doesNotMatch(textOf(crashed), /\n\s+at /);

  const answering = { listWorkspaces: (all: boolean) => Promise.resolve([{ name: 'w1', all }]) } as unknown as BerthClient;
  const listed = await callTool(answering, 'list_workspaces', { all: true }, signal);
  assert.deepEqual(listed.structuredContent, { items: [{ name: 'w1', all: true }] });
});
