/**
 * The web UI in a real browser (headless chromium): sign in, create a shell workspace and watch it
 * reach running without a reload, its events on the detail page, stop and delete with
 * confirmation, the admin pages, and the time the dashboard takes to show 200 workspaces.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { normalizeSpec } from '../../src/core/spec.ts';
import { SecretBox, newId } from '../../src/server/secrets.ts';
import { SpecCodec } from '../../src/server/workspaces.ts';
import { SqlStore } from '../../src/store/sql-store.ts';
import { newWorkspaceRow } from '../../src/store/store.ts';
import { TestServer, eventually, makeRepo, waitGone } from '../harness.ts';
import { BrowserPage, launchBrowser } from './browser.ts';

let server: TestServer;
let browser: Browser;
let repo: string;

before(async () => {
  server = await TestServer.start();
  repo = makeRepo({ 'README.md': '# demo\n' });
  await server.client().createProject({ name: 'demo', repo });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
  fs.rmSync(repo, { recursive: true, force: true });
});

test('sign in, create a shell workspace, see it reach running live, its events, stop, delete with confirmation', async () => {
  const b = await BrowserPage.open(browser, server.url);
  const { page } = b;
  await page.goto('/');
  await page.getByLabel('User token').waitFor();
  await b.screenshot('sign-in');
  await b.signIn(server.adminToken);
  await page.getByRole('heading', { name: 'Workspaces' }).waitFor();
  await page.getByText('No workspaces yet.').waitFor();

  // The cookie is HttpOnly and SameSite=Strict; the page's script cannot read it.
  const cookie = (await b.context.cookies()).find((c) => c.name === 'berth_session');
  assert.ok(cookie?.httpOnly);
  assert.equal(cookie.sameSite, 'Strict');
  assert.equal(await page.evaluate(() => document.cookie), '');

  // The server's validation message is shown beside the form.
  await page.getByRole('link', { name: 'New workspace' }).click();
  await page.getByLabel('Name').fill('web1');
  await page.getByLabel('Provisioner').selectOption('shell');
  await page.getByLabel('CPUs').fill('-1');
  b.expectHttpError(400, /^\/api\/v1\/workspaces$/);
  await page.getByRole('button', { name: 'Create' }).click();
  await page.locator('#create-error').filter({ hasText: /cpus/i }).waitFor();
  await b.screenshot('create-workspace');
  await page.getByLabel('CPUs').fill('');
  await page.getByRole('button', { name: 'Create' }).click();

  // The detail page: the phase turns to running and the event log fills, without a reload.
  await page.getByRole('heading', { name: /admin\/web1/ }).waitFor();
  const phase = page.locator('h1 [data-phase]');
  await phase.and(page.locator('[data-phase="running"]')).waitFor({ timeout: 60_000 });
  await page.getByRole('log', { name: 'Event log' }).getByText('[phase] running').waitFor();
  await page.getByRole('list').filter({ hasText: 'provisioning' }).waitFor();
  assert.match(await page.locator('dl.facts').innerText(), /Storage \(directory\)/);
  await b.screenshot('workspace-detail');

  // Live on the dashboard: stopping from the API shows up in the open list.
  await page.getByRole('link', { name: 'Workspaces' }).click();
  const row = page.locator('tr[data-workspace="web1"] [data-phase]');
  await row.and(page.locator('[data-phase="running"]')).waitFor();
  await b.screenshot('dashboard');
  const navigations: string[] = [];
  page.on('framenavigated', (f) => navigations.push(f.url()));
  await server.client().stopWorkspace('web1');
  await row.and(page.locator('[data-phase="stopped"]')).waitFor({ timeout: 60_000 });
  assert.deepEqual(navigations, [], 'the list changed without a reload');
  await server.client().startWorkspace('web1');
  await row.and(page.locator('[data-phase="running"]')).waitFor({ timeout: 60_000 });

  // Stop and delete from the detail page, each confirmed in a dialog (cancel first: nothing happens).
  await page.getByRole('link', { name: 'web1' }).click();
  await phase.and(page.locator('[data-phase="running"]')).waitFor();
  await page.getByRole('button', { name: 'Stop' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
  assert.equal((await server.client().getWorkspace('web1')).desired, 'running');
  await page.getByRole('button', { name: 'Stop' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Stop workspace' }).click();
  await phase.and(page.locator('[data-phase="stopped"]')).waitFor({ timeout: 60_000 });
  // By keyboard: Escape cancels, and focus is back on the button that asked.
  await page.getByRole('button', { name: 'Delete' }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('dialog').waitFor();
  await page.keyboard.press('Escape');
  await page.getByRole('dialog').waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Delete');
  assert.equal((await server.client().getWorkspace('web1')).desired, 'stopped');
  await page.getByRole('button', { name: 'Delete' }).click();
  await b.screenshot('delete-confirmation');
  await page.getByRole('dialog').getByRole('button', { name: 'Delete workspace' }).click();
  await page.getByRole('heading', { name: 'Workspaces' }).waitFor();
  await waitGone(server.client(), 'web1');
  await page.getByText('No workspaces yet.').waitFor();

  // Signing out ends the session: the page is the sign-in form again, and so after a reload.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('User token').waitFor();
  await page.reload();
  await page.getByLabel('User token').waitFor();
  b.assertClean();
  await b.close();
});

test('admin pages: projects with members, provisioners with health, users and tokens', async () => {
  const b = await BrowserPage.open(browser, server.url);
  const { page } = b;
  await b.signIn(server.adminToken);

  await page.getByRole('link', { name: 'Users' }).click();
  await page.getByLabel('User name').fill('alice');
  await page.getByRole('button', { name: 'Create user' }).click();
  await page.getByLabel('First token of alice').waitFor();
  await page.getByRole('cell', { name: 'alice' }).waitFor();
  await b.screenshot('users');

  await page.getByRole('link', { name: 'Projects' }).click();
  await page.getByRole('cell', { name: 'demo', exact: true }).waitFor();
  await page.getByRole('button', { name: 'Members of demo' }).click();
  await page.getByLabel('User to add').fill('alice');
  await page.getByRole('button', { name: 'Add member' }).click();
  await page.getByLabel('Role of alice').waitFor();
  await page.getByLabel('Role of alice').selectOption('viewer');
  await eventually(async () => (await server.client().listMembers('demo')).find((m) => m.user === 'alice' && m.role === 'viewer'), 'alice is a viewer');
  await b.screenshot('projects');
  await page.getByRole('button', { name: 'Remove alice' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Remove member' }).click();
  await page.getByLabel('Role of alice').waitFor({ state: 'detached' });
  assert.equal((await server.client().listMembers('demo')).some((m) => m.user === 'alice'), false);

  await page.getByRole('link', { name: 'Provisioners' }).click();
  await page.locator('tr[data-provisioner="shell"] td[data-health="true"]').waitFor();
  await b.screenshot('provisioners');

  await page.getByRole('link', { name: 'Tokens' }).click();
  await page.getByLabel('Token name').fill('laptop');
  await page.getByRole('button', { name: 'Create token' }).click();
  const made = (await page.getByLabel('New token').innerText()).trim();
  assert.match(made, /^berth_u_/);
  assert.equal((await server.client(made).me()).user.name, 'admin');
  await page.getByRole('button', { name: 'Revoke token laptop' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
  await page.getByRole('button', { name: 'Revoke token laptop' }).waitFor({ state: 'detached' });
  await assert.rejects(server.client(made).me(), /revoked/);
  await b.screenshot('tokens');
  b.assertClean();
  await b.close();
});

/** Writes stopped workspaces of `owner` in project demo straight into the server's store: nothing to provision, only rows to show. */
async function insertStopped(owner: string, names: string[]): Promise<void> {
  const store = await SqlStore.create({ kind: 'sqlite', file: path.join(server.dataDir, 'berth.db') });
  try {
    const user = (await store.getUserByName(owner))!;
    const project = (await store.getProjectByName('demo'))!;
    const spec = new SpecCodec(SecretBox.open(server.dataDir)).encode(normalizeSpec(undefined));
    for (const name of names) {
      const row = newWorkspaceRow({ id: newId('ws'), name, owner_id: user.id, project_id: project.id, provisioner: 'shell', spec_json: spec });
      await store.createWorkspace({ ...row, desired: 'stopped', phase: 'stopped' });
    }
  } finally {
    await store.close();
  }
}

test("a user who is not an admin sees only their own workspaces, no Users page, and the server's refusal of the shell provisioner", async () => {
  const { token } = await server.client().createUser('bob');
  await server.client().setMember('demo', 'bob', 'developer');
  await insertStopped('admin', ['admins-own']);
  await insertStopped('bob', ['bobs-own']);
  const b = await BrowserPage.open(browser, server.url);
  const { page } = b;
  await b.signIn(token);
  await page.locator('tr[data-workspace="bobs-own"]').waitFor();
  assert.equal(await page.locator('tr[data-workspace]').count(), 1, "the admin's workspace is not listed");
  assert.equal(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).count(), 0);
  await page.getByRole('link', { name: 'New workspace' }).click();
  await page.getByLabel('Name').fill('mine');
  await page.getByLabel('Provisioner').selectOption('shell');
  b.expectHttpError(403, /^\/api\/v1\/workspaces$/);
  await page.getByRole('button', { name: 'Create' }).click();
  await page.locator('#create-error').filter({ hasText: 'only admins may use it' }).waitFor();
  b.assertClean();
  await b.close();
});

test('the dashboard shows 200 workspaces (time printed)', async () => {
  await insertStopped('admin', Array.from({ length: 200 }, (_, i) => `bulk-${String(i).padStart(3, '0')}`));
  const b = await BrowserPage.open(browser, server.url);
  await b.signIn(server.adminToken);
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    await b.page.goto('/');
    // performance.now() counts from the navigation's start.
    const handle = await b.page.waitForFunction(() => document.querySelectorAll('table.list tr[data-workspace^="bulk-"]').length >= 200 && performance.now(), undefined, { polling: 'raf' });
    times.push(Math.round((await handle.jsonValue()) as number));
  }
  console.log(`dashboard with 200 workspaces rendered in ${times.join(' ms, ')} ms (navigation start to 200 rows; first load, then reloads)`);
  await b.screenshot('dashboard-200');

  // Sorting and filtering by keyboard: the list starts sorted by name; Enter on the Name header turns it descending.
  const { page } = b;
  const rows = page.locator('table.list tr[data-workspace]');
  await page.getByRole('button', { name: 'Name' }).focus();
  await page.keyboard.press('Enter');
  await page.locator('th[aria-sort="descending"]').getByRole('button', { name: 'Name' }).waitFor();
  assert.equal(await rows.first().getAttribute('data-workspace'), 'bulk-199');
  await page.getByLabel('Filter').fill('bulk-19');
  await page.locator('table.list[data-count="10"]').waitFor();
  await page.getByLabel('Phase').selectOption('stopped');
  await page.getByLabel('Provisioner').selectOption('shell');
  assert.equal(await rows.count(), 10);
  b.assertClean();
  await b.close();
});
