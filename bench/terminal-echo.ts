/**
 * Browser terminal echo against a shell workspace: a key pressed in the web UI's terminal (Debian's
 * chromium, headless, driven by playwright-core) until the shell's echo of it is drawn in the
 * xterm.js rows. Both ends are read in the page: the keydown event's time and the DOM mutation that
 * shows the character, so neither the driver's round trips nor a frame the driver waits for count,
 * but xterm's own rendering (up to one animation frame) does. Goal: p99 ≤ 50 ms.
 * Baseline: the same echo through a raw WebSocket client (node `ws`) on the same exec endpoint of
 * the same workspace: one byte sent on stdin, timed until it comes back on stdout. A second figure
 * is a bare WebSocket in the same page (the page's cookie, no xterm.js, no React) sending the keys
 * pressed in a plain input: chromium delivers a socket's message after a key press only after its
 * next frame, which this figure shows is the browser's share, not the UI's.
 */
import { WebSocket } from 'ws';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHANNEL_STDIN, CHANNEL_STDOUT, EXEC_PROTOCOL } from '../src/sdk/protocol.ts';
import { TestServer, makeRepo, tempDir, waitPhase } from '../test/harness.ts';
import { rotationOrder, runs, sampleRounds, warmups } from './harness.ts';
import { makeResult, type Result } from './lib.ts';

/** The prompt every side sets, so an echoed line is easy to find. */
const PROMPT = 'ECHO> ';
/** Characters typed, one a sample; after a line of them the line is cleared (untimed) with ^C. */
const KEYS = 'abcdefghijklmnopqrstuvwxyz';
const LINE = 40;

/** Output with terminal escape sequences removed (bash wraps its prompt in bracketed-paste switches). */
function plain(out: string): string {
  return out.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
}

/** The page's side: keys pressed in the UI's terminal, timed in the page. */
class BrowserSide {
  private typed = '';

  constructor(private readonly page: Page) {}

  /** Opens the workspace's terminal page and sets the prompt. */
  async open(url: string, workspace: string): Promise<void> {
    await this.page.goto(`${url}/workspaces/${workspace}/terminal`);
    await this.page.locator('.xterm-helper-textarea').focus();
    await this.page.waitForFunction(() => /[#$] ?$/m.test(rowsText().join('\n').trimEnd()), null, { timeout: 30_000 });
    await this.page.keyboard.type(`PS1='${PROMPT}'\n`);
    await this.waitLine('');
  }

  /** Waits until the last prompt row reads exactly the prompt and `rest`. */
  private async waitLine(rest: string): Promise<void> {
    await this.page.waitForFunction(({ prompt, rest }) => lastPromptRow(prompt) === prompt + rest, { prompt: PROMPT, rest }, { timeout: 30_000 });
  }

  /** One key: its echo's time on the page, from keydown to the row showing it. */
  async sample(i: number): Promise<number> {
    if (this.typed.length >= LINE) {
      await this.page.locator('.xterm-helper-textarea').focus();
      await this.page.keyboard.press('Control+C');
      this.typed = '';
      await this.waitLine('');
    }
    const key = KEYS[(i + KEYS.length * 4) % KEYS.length]!;
    this.typed += key;
    await this.page.evaluate(({ prompt, want }) => armEcho(prompt, want), { prompt: PROMPT, want: PROMPT + this.typed });
    await this.page.keyboard.press(key);
    return this.page.evaluate(() => (window as unknown as { berthEcho: Promise<number> }).berthEcho);
  }
}

/** The baseline: a raw exec WebSocket from node with the bearer token, a TTY shell on the same workspace. */
class RawSide {
  private out = '';
  private waiter: (() => void) | undefined;
  private typed = 0;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, binary: boolean) => {
      if (!binary || data[0] !== CHANNEL_STDOUT) return;
      this.out += data.subarray(1).toString('utf8');
      this.waiter?.();
    });
  }

  /** Starts a shell and sets the prompt. */
  static async open(url: string, token: string, workspace: string): Promise<RawSide> {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/v1/workspaces/${workspace}/exec`, EXEC_PROTOCOL, { headers: { authorization: `Bearer ${token}` } });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send(JSON.stringify({ cmd: [], tty: true, cols: 120, rows: 30 }));
    const side = new RawSide(ws);
    side.send(`PS1='${PROMPT}'\r`);
    await side.until((o) => plain(o).endsWith(PROMPT));
    return side;
  }

  private send(text: string): void {
    this.ws.send(Buffer.concat([Buffer.from([CHANNEL_STDIN]), Buffer.from(text)]));
  }

  /** Resolves once the output so far satisfies `done`. */
  private async until(done: (out: string) => boolean): Promise<void> {
    while (!done(this.out)) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no echo within 30 s; the shell printed: ${JSON.stringify(this.out.slice(-200))}`)), 30_000);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** One key: sent on stdin, timed until it is echoed on stdout. */
  async sample(i: number): Promise<number> {
    if (this.typed >= LINE) {
      this.out = '';
      this.send('\x03');
      await this.until((o) => plain(o).endsWith(PROMPT));
      this.typed = 0;
    }
    const key = KEYS[(i + KEYS.length * 4) % KEYS.length]!;
    this.out = '';
    this.typed++;
    const t0 = performance.now();
    this.send(key);
    await this.until((o) => o.includes(key));
    return performance.now() - t0;
  }

  close(): void {
    this.ws.close();
  }
}

/** A bare WebSocket in the page (the session cookie, no xterm.js, no React), fed by key presses in a plain input: the browser's share of the echo without the UI. */
class PageSocketSide {
  private typed = 0;

  constructor(private readonly page: Page) {}

  async open(workspace: string): Promise<void> {
    await this.page.evaluate(({ workspace, protocol, prompt }) => openBareSocket(workspace, protocol, prompt), { workspace, protocol: EXEC_PROTOCOL, prompt: PROMPT });
  }

  /** One key pressed in the probe input: its echo's time on the page, from keydown to the socket's message. */
  async sample(i: number): Promise<number> {
    if (this.typed >= LINE) {
      await this.page.evaluate((prompt) => bareClear(prompt), PROMPT);
      this.typed = 0;
    }
    this.typed++;
    await this.page.evaluate(() => armBare());
    await this.page.keyboard.press(KEYS[(i + KEYS.length * 4) % KEYS.length]!);
    return this.page.evaluate(() => (window as unknown as { bareEcho: Promise<number> }).bareEcho);
  }
}

/**
 * Functions the page needs, installed as globals before the app loads. Plain JavaScript in a
 * string: a function compiled by tsx would carry helpers (`__name`) the page does not have.
 */
const PAGE_HELPERS = String.raw`
window.plain = (out) => out.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
// The text of xterm.js's rendered rows, non-breaking spaces as spaces.
window.rowsText = () => [...document.querySelectorAll('.xterm-rows > div')].map((r) => (r.textContent || '').replace(/\u00a0/g, ' ').trimEnd());
window.lastPromptRow = (prompt) => {
  const rows = window.rowsText();
  for (let i = rows.length - 1; i >= 0; i--) if (rows[i].startsWith(prompt.trimEnd())) return rows[i].length < prompt.length ? prompt : rows[i];
  return undefined;
};
// Arms a timer: from the next keydown to the first change of the rows after which the prompt row reads want.
window.armEcho = (prompt, want) => {
  document.querySelector('.xterm-helper-textarea').focus();
  window.berthEcho = new Promise((resolve, reject) => {
    let t0 = 0;
    const timeout = setTimeout(() => reject(new Error('the terminal did not show "' + want + '" within 10 s')), 10000);
    const obs = new MutationObserver(() => {
      if (t0 && window.lastPromptRow(prompt) === want) {
        const t1 = performance.now();
        obs.disconnect();
        clearTimeout(timeout);
        resolve(t1 - t0);
      }
    });
    obs.observe(document.querySelector('.xterm-rows'), { subtree: true, childList: true, characterData: true });
    document.addEventListener('keydown', (e) => { t0 = e.timeStamp; }, { capture: true, once: true });
  });
};
// A bare exec WebSocket with the page's cookie: the state of its output and a way to wait on it.
window.bareUntil = (done) => new Promise((resolve, reject) => {
  const st = window.bareSocket.state;
  const t = setTimeout(() => reject(new Error('no echo within 10 s: ' + JSON.stringify(st.out.slice(-100)))), 10000);
  st.waiter = () => {
    if (!done()) return;
    clearTimeout(t);
    st.waiter = undefined;
    resolve();
  };
});
window.openBareSocket = (workspace, protocol, prompt) => {
  const ws = new WebSocket(location.origin.replace(/^http/, 'ws') + '/api/v1/workspaces/' + workspace + '/exec', protocol);
  ws.binaryType = 'arraybuffer';
  const state = { out: '', waiter: undefined };
  window.bareSocket = { ws, state };
  ws.onmessage = (ev) => {
    if (typeof ev.data === 'string') return;
    const b = new Uint8Array(ev.data);
    if (b[0] !== 1) return;
    state.out += new TextDecoder().decode(b.subarray(1));
    if (state.waiter) state.waiter();
  };
  const ready = window.bareUntil(() => window.plain(state.out).endsWith(prompt));
  ws.onopen = () => {
    ws.send(JSON.stringify({ cmd: [], tty: true, cols: 120, rows: 30 }));
    ws.send(new Uint8Array([0, ...new TextEncoder().encode("PS1='" + prompt + "'\r")]));
  };
  return ready;
};
// Clears the bare shell's line (untimed) once a line of keys is typed.
window.bareClear = async (prompt) => {
  const { ws, state } = window.bareSocket;
  state.out = '';
  const back = window.bareUntil(() => window.plain(state.out).endsWith(prompt));
  ws.send(new Uint8Array([0, 3]));
  await back;
};
// Arms the probe: the next keydown in a plain input sends the key on the bare socket; timed from keydown to the echo's message.
window.armBare = () => {
  const { ws, state } = window.bareSocket;
  let probe = document.getElementById('echo-probe');
  if (!probe) {
    probe = document.createElement('input');
    probe.id = 'echo-probe';
    probe.setAttribute('aria-label', 'echo probe');
    document.body.append(probe);
  }
  probe.focus();
  window.bareEcho = new Promise((resolve, reject) => {
    probe.addEventListener('keydown', (e) => {
      e.preventDefault();
      const t0 = e.timeStamp;
      state.out = '';
      window.bareUntil(() => state.out.includes(e.key)).then(() => resolve(performance.now() - t0), reject);
      ws.send(new Uint8Array([0, e.key.charCodeAt(0)]));
    }, { once: true });
  });
};
`;

/** Declarations of the page globals, for the calls above (they run in the page, never here). */
declare function rowsText(): string[];
declare function lastPromptRow(prompt: string): string | undefined;
declare function armEcho(prompt: string, want: string): void;
declare function openBareSocket(workspace: string, protocol: string, prompt: string): Promise<void>;
declare function bareClear(prompt: string): Promise<void>;
declare function armBare(): void;

/** Signs the page in with a user token (the UI's cookie session). */
async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/`);
  const status = await page.evaluate(async (token) => (await fetch('/api/v1/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) })).status, token);
  if (status !== 201) throw new Error(`signing the browser in answered ${status}`);
}

/** Runs the echo benchmark. */
export async function run(): Promise<Result[]> {
  const server = await TestServer.start({ env: { BERTH_LOG_LEVEL: 'warn' } });
  let browser: Browser | undefined;
  let raw: RawSide | undefined;
  try {
    const c = server.client();
    await c.createProject({ name: 'echo', repo: makeRepo({ 'README.md': '# echo\n' }, tempDir('berth-bench-echo-')) });
    const w = await c.createWorkspace({ name: 'echo', project: 'echo' });
    await waitPhase(c, w.id, 'running');
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'], headless: true });
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    await page.addInitScript({ content: PAGE_HELPERS });
    await signIn(page, server.url, server.adminToken);
    const ui = new BrowserSide(page);
    await ui.open(server.url, 'echo');
    raw = await RawSide.open(server.url, server.adminToken, 'echo');
    const bare = new PageSocketSide(page);
    await bare.open('echo');
    const warmup = warmups(20);
    const sides = [
      { name: 'berth', sample: (i: number) => ui.sample(i) },
      { name: 'raw WebSocket client (node ws, same exec endpoint)', sample: (i: number) => raw!.sample(i) },
      { name: 'bare WebSocket in the page, keys from a plain input (no xterm.js)', sample: (i: number) => bare.sample(i) },
    ];
    const [berth, baseline, inPage] = await sampleRounds(sides, runs(300, 5), warmup);
    return [
      makeResult({
        name: 'browser terminal echo (keydown → drawn), shell workspace',
        berth: berth!,
        baseline: baseline!,
        baselineName: sides[1]!.name,
        others: [{ name: sides[2]!.name, samples: inPage! }],
        ratioOf: 'p99',
        goal: { maxBerthP99: 50 },
        warmup,
        order: rotationOrder(sides.length),
        extra: { browser: browser.version(), renderer: 'xterm.js DOM renderer', measuredTo: 'the DOM mutation of the row that shows the echoed character' },
      }),
    ];
  } finally {
    raw?.close();
    await browser?.close();
    await server.stop();
  }
}
