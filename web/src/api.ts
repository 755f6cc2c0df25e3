/** The UI's API client: JSON over fetch with the session cookie, the CSRF header on state-changing requests, NDJSON streams. */
import type { SessionInfo } from '../../src/sdk/web.ts';
import type { ErrorBody } from '../../src/sdk/wire.ts';

/** A non-2xx answer: the server's code and its sentence. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const CSRF_HEADER = 'x-berth-csrf';
let csrf: string | null = null;
let onSignedOut: () => void = () => undefined;

/** Remembers the session's CSRF value (from sign-in or GET /session). */
export function setSession(s: SessionInfo | null): void {
  csrf = s?.csrf ?? null;
}

/** Called when the server answers 401: the session ended, the page goes back to sign-in. */
export function whenSignedOut(fn: () => void): void {
  onSignedOut = fn;
}

async function failure(res: Response): Promise<ApiError> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as ErrorBody;
    return new ApiError(res.status, body.error.code, body.error.message);
  } catch {
    return new ApiError(res.status, 'http_error', `The server answered ${res.status} ${res.statusText}.`);
  }
}

/** One API call under /api/v1; resolves to the parsed JSON (undefined for 204). */
export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf) headers[CSRF_HEADER] = csrf;
  const res = await fetch(`/api/v1${path}`, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  if (!res.ok) {
    const err = await failure(res);
    if (res.status === 401 && path !== '/session') onSignedOut();
    throw err;
  }
  return (res.status === 204 ? undefined : await res.json()) as T;
}

/** Shorthands. */
export const get = <T>(path: string) => request<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => request<T>('POST', path, body);
export const put = <T>(path: string, body?: unknown) => request<T>('PUT', path, body);
export const patch = <T>(path: string, body?: unknown) => request<T>('PATCH', path, body);
export const del = <T>(path: string) => request<T>('DELETE', path);

/**
 * Reads an NDJSON stream (a followed event log, the workspace watch) and calls `onItem` per line
 * until it ends or `signal` aborts. Resolves when the stream ends; rejects on an HTTP error.
 */
export async function stream<T>(path: string, onItem: (item: T) => void, signal: AbortSignal): Promise<void> {
  const res = await fetch(`/api/v1${path}`, { credentials: 'same-origin', signal });
  if (!res.ok || !res.body) {
    const err = await failure(res);
    if (res.status === 401) onSignedOut();
    throw err;
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line) onItem(JSON.parse(line) as T);
      }
    }
  } catch (err) {
    if (signal.aborted) return;
    throw err;
  }
}
