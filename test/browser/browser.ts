/**
 * Browser test harness: Debian's chromium driven headless by playwright-core against a test
 * server. Every page records console errors, failed requests, HTTP error answers and the URL of
 * every request; `assertClean` fails the test on a console error, a failed request, an error
 * answer the test did not expect, or a request to any host but the control plane.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ROOT } from '../harness.ts';

/** Where screenshots of the main pages are written on each run (documented in docs/web-ui.md). */
export const SCREENSHOTS = path.join(ROOT, 'test-results', 'screenshots');
/** Debian's chromium; the test environment installs it (testenv/berth-testenv). */
export const CHROMIUM = process.env.BERTH_CHROMIUM ?? '/usr/bin/chromium';

/** Starts headless chromium (no sandbox: the tests run as root). */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** An HTTP error answer a test provokes on purpose (a 401 before signing in, a validation 400). */
interface Expected {
  status: number;
  path: RegExp;
}

/** One browser context (its own cookies) on the control plane at `baseUrl`, watching what the page does. */
export class BrowserPage {
  readonly requests: string[] = [];
  readonly consoleErrors: string[] = [];
  readonly failedRequests: string[] = [];
  readonly httpErrors: { status: number; url: string }[] = [];
  private readonly expected: Expected[] = [];

  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
    readonly baseUrl: string,
  ) {
    page.on('request', (r) => this.requests.push(r.url()));
    page.on('console', (m) => {
      if (m.type() === 'error') this.consoleErrors.push(`${m.text()} (${m.location().url})`);
    });
    page.on('pageerror', (err) => this.consoleErrors.push(`uncaught: ${err.message}`));
    page.on('requestfailed', (r) => {
      // A stream the page closes itself (leaving a page, following again) ends as aborted: not a failure.
      const ownAbort = r.failure()?.errorText === 'net::ERR_ABORTED' && /[?&]follow=true|\/watch\//.test(r.url());
      if (!ownAbort) this.failedRequests.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400) this.httpErrors.push({ status: r.status(), url: r.url() });
    });
  }

  /** Opens a new context and page. */
  static async open(browser: Browser, baseUrl: string): Promise<BrowserPage> {
    const context = await browser.newContext({ baseURL: baseUrl, viewport: { width: 1366, height: 800 } });
    return new BrowserPage(context, await context.newPage(), baseUrl);
  }

  /** Declares an error answer the test causes on purpose; without this, any 4xx/5xx fails assertClean. */
  expectHttpError(status: number, pathRe: RegExp): void {
    this.expected.push({ status, path: pathRe });
  }

  private isExpected(status: number, url: string): boolean {
    const p = new URL(url).pathname + new URL(url).search;
    return this.expected.some((e) => e.status === status && e.path.test(p));
  }

  /** Signs in through the sign-in page with `token`. */
  async signIn(token: string): Promise<void> {
    this.expectHttpError(401, /^\/api\/v1\/session$/);
    await this.page.goto('/');
    await this.page.getByLabel('User token').fill(token);
    await this.page.getByRole('button', { name: 'Sign in' }).click();
    await this.page.getByRole('button', { name: 'Sign out' }).waitFor();
  }

  /** Saves a full-page screenshot as test-results/screenshots/<name>.png. */
  async screenshot(name: string): Promise<string> {
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    const file = path.join(SCREENSHOTS, `${name}.png`);
    await this.page.screenshot({ path: file, fullPage: true });
    return file;
  }

  /** Fails on console errors, failed requests, unexpected error answers, or requests to another host. */
  assertClean(): void {
    const host = new URL(this.baseUrl).host;
    const foreign = this.requests.filter((u) => !u.startsWith('data:') && new URL(u).host !== host);
    assert.deepEqual(foreign, [], 'requests to hosts other than the control plane');
    assert.deepEqual(this.failedRequests, [], 'failed requests');
    const unexpected = this.httpErrors.filter((e) => !this.isExpected(e.status, e.url));
    assert.deepEqual(unexpected, [], 'unexpected HTTP error answers');
    // Chromium logs every error answer as a console error; those were judged just above.
    const errors = this.consoleErrors.filter((m) => !/^Failed to load resource: the server responded with a status of \d+/.test(m));
    assert.deepEqual(errors, [], 'console errors');
  }

  async close(): Promise<void> {
    await this.context.close();
  }
}
