/**
 * The changes page in headless chromium on a shell workspace: files changed from the browser's
 * terminal show up with their diff; git's refusal of an empty commit is shown in words beside the
 * commit button; a discard asks first; stage, commit and push land the change in the upstream
 * repository (checked with git there); stopping the workspace ends the terminal with its message.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { TestServer, git, tempDir, waitPhase } from '../harness.ts';
import { bareUpstream } from '../git/fixtures.ts';
import { BrowserPage, launchBrowser } from './browser.ts';
import { typeLine, waitForScreen } from './terminal-page.ts';

let server: TestServer;
let browser: Browser;
let root: string;
let upstream: string;

before(async () => {
  server = await TestServer.start();
  root = tempDir('berth-changes-upstream-');
  upstream = bareUpstream(root, 'app', { 'README.md': '# app\n', 'notes/todo.txt': 'one\n' });
  await server.client().createProject({ name: 'app', repo: upstream });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

test('changes page: a file changed in the terminal, its diff, an empty commit refused in words, discard with confirmation, stage, commit, push to the upstream', async () => {
  const w = await server.client().createWorkspace({ name: 'changes', project: 'app', provisioner: 'shell' });
  await waitPhase(server.client(), w.id, 'running');
  const b = await BrowserPage.open(browser, server.url);
  const { page } = b;
  await b.signIn(server.adminToken);

  // Change files from the browser's terminal.
  await page.goto('/workspaces/changes/terminal');
  await typeLine(page, "printf '# app\\nchanged in the browser\\n' > README.md; echo scratch > scratch.txt; echo edited-$((40+2))");
  await waitForScreen(page, 'edited-42');

  // The changes page lists both, with the branch and where it stands against its upstream.
  await page.getByRole('navigation', { name: 'Workspace' }).getByRole('link', { name: 'Changes' }).click();
  await page.getByRole('heading', { name: 'Changes in changes' }).waitFor();
  const files = page.getByRole('table', { name: 'Changed files' });
  await files.getByRole('row').filter({ hasText: 'README.md' }).filter({ hasText: 'modified' }).waitFor();
  await files.getByRole('row').filter({ hasText: 'scratch.txt' }).filter({ hasText: 'untracked' }).waitFor();
  assert.match(await page.getByLabel('Branch').innerText(), /Branch main at [0-9a-f]{7} · up to date with origin\/main/);

  // The diff of one file.
  await page.getByRole('button', { name: 'README.md', exact: true }).click();
  const unstaged = page.getByLabel('Unstaged diff of README.md');
  await unstaged.locator('.diff-add').filter({ hasText: '+changed in the browser' }).waitFor();
  await b.screenshot('changes');

  // Nothing is staged yet: git's refusal is shown in words beside the commit button.
  b.expectHttpError(409, /\/git\/commit$/);
  await page.getByLabel('Commit message').fill('Say what changed in the browser');
  await page.getByRole('button', { name: /^Commit 0 staged files$/ }).click();
  await page.locator('#commit-outcome[role="alert"]').filter({ hasText: 'There is nothing to commit: no changes are staged.' }).waitFor();

  // Discard asks first: cancelled, the file stays; confirmed, it is gone from the work tree.
  await page.getByRole('button', { name: 'Discard changes to scratch.txt' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
  await files.getByRole('row').filter({ hasText: 'scratch.txt' }).waitFor();
  await page.getByRole('button', { name: 'Discard changes to scratch.txt' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Discard' }).click();
  await files.getByRole('row').filter({ hasText: 'scratch.txt' }).waitFor({ state: 'detached' });

  // Stage one file, unstage all, stage all; the staged diff is shown.
  await page.getByRole('button', { name: 'Stage README.md' }).click();
  await files.getByRole('row').filter({ hasText: 'README.md' }).filter({ hasText: 'modified (staged)' }).waitFor();
  await page.getByRole('button', { name: 'Unstage all', exact: true }).click();
  await files.getByRole('row').filter({ hasText: 'README.md' }).filter({ hasText: /^README\.md\s*modified\s*Stage/ }).waitFor();
  await page.getByRole('button', { name: 'Unstage README.md' }).waitFor({ state: 'detached' });
  await page.getByRole('button', { name: 'Stage all', exact: true }).click();
  await page.getByLabel('Staged diff of README.md').locator('.diff-add').filter({ hasText: '+changed in the browser' }).waitFor();
  await b.screenshot('changes-staged');

  // Commit, then push: the page says where the branch stands, and the upstream has the commit.
  await page.getByRole('button', { name: 'Commit 1 staged file' }).click();
  await page.locator('#commit-outcome[role="status"]').filter({ hasText: /^Committed [0-9a-f]{7} on main\.\s*\[main [0-9a-f]{7}\] Say what changed in the browser/ }).waitFor();
  await page.getByText('1 ahead origin/main').waitFor();
  await page.getByText('No changes: the work tree matches the last commit.').waitFor();
  await page.getByRole('button', { name: 'Push' }).click();
  await page.locator('#sync-outcome[role="status"]').filter({ hasText: 'Pushed.' }).waitFor({ timeout: 60_000 });
  await page.getByText('up to date with origin/main').waitFor();
  assert.equal(git(upstream, 'log', '-1', '--format=%s', 'main').trim(), 'Say what changed in the browser');
  assert.equal(git(upstream, 'show', 'main:README.md'), '# app\nchanged in the browser\n');

  // Pull: nothing new upstream, said so.
  await page.getByRole('button', { name: 'Pull' }).click();
  await page.locator('#sync-outcome[role="status"]').filter({ hasText: 'Pulled.' }).waitFor({ timeout: 60_000 });
  await b.screenshot('changes-pushed');

  // Stop: the terminal tab ends with the message that says why.
  await page.getByRole('navigation', { name: 'Workspace' }).getByRole('link', { name: 'Terminal' }).click();
  await waitForScreen(page, 'edited-42');
  await server.client().stopWorkspace('changes');
  await page.getByRole('status').filter({ hasText: /^The workspace stopped; this terminal has ended/ }).waitFor({ timeout: 60_000 });
  b.assertClean();
  await b.close();
});
