/**
 * Helpers of the terminal and changes browser tests: reading what a terminal tab shows, typing into
 * it once its shell is ready, and a loopback TCP proxy whose connections can be cut, which is how the
 * tests make a network loss (chromium's offline emulation leaves open WebSockets alone).
 */
import net from 'node:net';
import type { Locator, Page } from 'playwright-core';

/** The shown tab panel's terminal rows. */
export function terminalRows(page: Page): Locator {
  return page.locator('[role="tabpanel"]:not([hidden]) .xterm-rows');
}

/** Waits until the shown terminal's rows contain `text` (or match it). */
export async function waitForScreen(page: Page, text: string | RegExp, timeout = 30_000): Promise<void> {
  await terminalRows(page).filter({ hasText: text }).waitFor({ timeout });
}

/** Waits for a shell prompt in the shown terminal, then types `line` and Enter. */
export async function typeLine(page: Page, line: string): Promise<void> {
  await waitForScreen(page, /[$#] ?/);
  await page.locator('[role="tabpanel"]:not([hidden]) .xterm-helper-textarea').focus();
  await page.keyboard.type(line);
  await page.keyboard.press('Enter');
}

/** A proxy on 127.0.0.1 to a local port, whose open connections `cut` drops at once (a network loss). */
export interface CuttableProxy {
  url: string;
  /** Connections ever accepted: a reconnect shows up as one more. */
  accepted(): number;
  cut(): void;
  close(): Promise<void>;
}

/** Starts a cuttable proxy in front of `port`. */
export async function cuttableProxy(port: number): Promise<CuttableProxy> {
  const open = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: own } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${own}`,
    accepted: () => accepted,
    cut: () => {
      for (const s of open) s.resetAndDestroy();
    },
    close: async () => {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
