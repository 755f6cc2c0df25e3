/**
 * Browser terminals in headless chromium, on a shell workspace and again on a docker one: type a
 * command and see its output, survive a network loss and a page reload with the scrollback replayed
 * into the same shell, paste and copy with the terminal's keys, resizing, a second tab whose shell exits, and the "workspace
 * stopped" message when the workspace stops. After a restart of the control plane the tab opens a
 * new shell by itself, which on docker is the old shell again (tmux). The browser reaches the control plane through a
 * loopback proxy whose connections the test cuts to make the network loss.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { TestServer, eventually, makeRepo, waitPhase } from '../harness.ts';
import { cleanupEngines, installationOf, testEnv } from '../docker/env.ts';
import { BrowserPage, launchBrowser } from './browser.ts';
import { cuttableProxy, terminalRows, typeLine, waitForScreen, type CuttableProxy } from './terminal-page.ts';

let server: TestServer;
let browser: Browser;
let proxy: CuttableProxy;
let repo: string;
let installation: string | undefined;

before(async () => {
  server = await TestServer.start();
  installation = installationOf(server);
  repo = makeRepo({ 'README.md': '# terminals\n' });
  await server.client().createProject({ name: 'demo', repo });
  proxy = await cuttableProxy(server.port);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await proxy?.close();
  await server?.stop();
  if (installation) cleanupEngines(installation);
  fs.rmSync(repo, { recursive: true, force: true });
});

/** How many times `text` stands in the shown terminal. */
async function occurrences(b: BrowserPage, text: string): Promise<number> {
  const shown = (await terminalRows(b.page).innerText()).replace(/\u00a0/g, ' ');
  return shown.split(text).length - 1;
}

/** The terminal journey on workspace `ws`; screenshots named after `shot`; `outlivesRestart` when its shell runs in tmux. */
async function terminalJourney(ws: string, shot: string, outlivesRestart: boolean): Promise<void> {
  const b = await BrowserPage.open(browser, proxy.url);
  const { page } = b;
  await b.context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await b.signIn(server.adminToken);
  await page.goto(`/workspaces/${ws}/terminal`);
  await page.getByRole('tab', { name: 'Terminal 1', selected: true }).waitFor();

  // A command and its output; a shell variable marks this very shell.
  await typeLine(page, 'X=kept-$((3*3)); echo term-$((6*7))');
  await waitForScreen(page, 'term-42');
  await b.screenshot(shot);

  // A network loss: the connections drop, the terminal connects again by itself to the same shell,
  // and what it already showed is not written twice.
  const accepted = proxy.accepted();
  proxy.cut();
  await eventually(() => proxy.accepted() > accepted, 'the terminal to connect again');
  await typeLine(page, 'echo "after-loss=$X"');
  await waitForScreen(page, 'after-loss=kept-9');
  assert.equal(await occurrences(b, 'term-42'), 1, 'the replay after the reconnect skips what the terminal already shows');

  // A reload: the same tab re-attaches to the same shell and its scrollback is replayed.
  await page.reload();
  await page.getByRole('tab', { name: 'Terminal 1', selected: true }).waitFor();
  await waitForScreen(page, 'term-42');
  await typeLine(page, 'echo "after-reload=$X"');
  await waitForScreen(page, 'after-reload=kept-9');

  // Paste with Ctrl+Shift+V (the browser's paste event), copy a selection with Ctrl+Shift+C.
  await page.evaluate(() => navigator.clipboard.writeText('echo pasted-$((5*5))'));
  await page.keyboard.press('Control+Shift+V');
  await page.keyboard.press('Enter');
  await waitForScreen(page, 'pasted-25');
  await page.evaluate(() => navigator.clipboard.writeText(''));
  // A double click on the word selects it (xterm's screen layer takes the mouse, so click where the row is).
  const row = (await terminalRows(page).locator('div').filter({ hasText: /^pasted-25\s*$/ }).last().boundingBox())!;
  await page.mouse.dblclick(row.x + 4, row.y + row.height / 2);
  await page.keyboard.press('Control+Shift+C');
  await eventually(async () => (await page.evaluate(() => navigator.clipboard.readText())) === 'pasted-25', 'the selection to be on the clipboard');

  // A smaller window: the terminal fits itself and the shell learns its new size.
  const size = async (mark: string) => {
    await typeLine(page, `echo ${mark}=$(stty size | tr ' ' x)`);
    await waitForScreen(page, new RegExp(`${mark}=\\d+x\\d+`));
    const m = new RegExp(`${mark}=(\\d+)x(\\d+)`).exec((await terminalRows(page).innerText()).replace(/\u00a0/g, ' '))!;
    return { rows: Number(m[1]), cols: Number(m[2]) };
  };
  const wide = await size('size1');
  await page.setViewportSize({ width: 900, height: 600 });
  // The new size reaches the shell a moment after the window changes: ask again until it has (or time out).
  let narrow = wide;
  let asked = 1;
  await eventually(async () => {
    narrow = await size(`size${++asked}`);
    return narrow.cols < wide.cols && narrow.rows < wide.rows;
  }, 'the shell to learn the smaller size', 15_000, 250).catch(() => undefined);
  assert.ok(narrow.cols < wide.cols && narrow.rows < wide.rows, `the shell sees ${narrow.cols}x${narrow.rows} after ${wide.cols}x${wide.rows}`);

  // A second tab is another shell; the first keeps its own.
  await page.getByRole('button', { name: 'New terminal' }).click();
  await page.getByRole('tab', { name: 'Terminal 2', selected: true }).waitFor();
  await typeLine(page, 'echo "second=${X:-unset}-$((1+1))"');
  await waitForScreen(page, 'second=unset-2');
  // Its shell exits: the tab says how (tmux reports its own exit, not the shell's).
  await typeLine(page, 'exit 3');
  await page.getByRole('status').filter({ hasText: outlivesRestart ? /^The session ended with exit code \d+\.$/ : /^The session ended with exit code 3\.$/ }).waitFor();
  await page.getByRole('tab', { name: 'Terminal 2 (ended)' }).waitFor();
  await page.getByRole('tab', { name: 'Terminal 1' }).click();
  await waitForScreen(page, 'after-reload=kept-9');
  await page.getByRole('button', { name: 'Close Terminal 2' }).click();
  assert.deepEqual(await page.getByRole('tab').allInnerTexts(), ['Terminal 1']);

  // The control plane restarts (kill -9): its sessions are gone, so the tab opens a new shell by
  // itself; on docker that shell takes over the tmux session the old one left, variables and all.
  await server.restart();
  await waitPhase(server.client(), ws, 'running');
  await typeLine(page, 'echo "after-restart=${X:-a new shell}"');
  await waitForScreen(page, outlivesRestart ? 'after-restart=kept-9' : 'after-restart=a new shell', 60_000);
  // tmux redraws the whole screen over the tab's note; a bare shell leaves it in view.
  if (!outlivesRestart) await waitForScreen(page, '[The previous session has ended; this is a new shell.]');
  // Attempts made while the server was down fail, as they should; chromium logs each one.
  for (let i = b.consoleErrors.length - 1; i >= 0; i--) if (/^WebSocket connection to '.*\/exec' failed/.test(b.consoleErrors[i]!)) b.consoleErrors.splice(i, 1);

  // Stopping the workspace ends the terminal with a message that says so.
  await server.client().stopWorkspace(ws);
  await page.getByRole('status').filter({ hasText: /^The workspace stopped/ }).waitFor({ timeout: 60_000 });
  await page.getByRole('tab', { name: 'Terminal 1 (ended)' }).waitFor();
  await b.screenshot(`${shot}-stopped`);

  // Started again, the ended tab offers a new shell in place.
  await server.client().startWorkspace(ws);
  await waitPhase(server.client(), ws, 'running', 120_000);
  await page.getByRole('button', { name: 'New shell in this tab' }).click();
  await page.getByRole('tab', { name: 'Terminal 1', exact: true }).waitFor();
  await typeLine(page, 'echo restarted-$((7*6))');
  await waitForScreen(page, 'restarted-42');
  b.assertClean();
  await b.close();
}

test('shell workspace: a terminal in the browser runs commands, survives a network loss and a reload, copies and pastes, follows the window size, has tabs, and says when the workspace stops', async () => {
  const w = await server.client().createWorkspace({ name: 'term-shell', project: 'demo', provisioner: 'shell' });
  await waitPhase(server.client(), w.id, 'running');
  await terminalJourney('term-shell', 'terminal', false);
});

test('docker workspace: the same terminal journey', async () => {
  const w = await server.client().createWorkspace({ name: 'term-docker', project: 'demo', provisioner: 'docker', spec: { image: testEnv().BERTH_TEST_IMAGE } });
  await waitPhase(server.client(), w.id, 'running', 120_000);
  await terminalJourney('term-docker', 'terminal-docker', true);
});
