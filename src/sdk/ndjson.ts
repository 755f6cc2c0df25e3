/**
 * NDJSON streams from the server (event follows) over node:http, as every other request of the
 * client: `fetch` would load undici first, a good part of a short command such as
 * `berth ws create --wait`.
 */
import type { IncomingMessage } from 'node:http';

/** How a stream ended: its HTTP status, and the body when the status is not 2xx (an error to read). */
export interface StreamEnd {
  status: number;
  errorBody?: string;
}

/**
 * GETs `url` and calls `onLine` with each parsed line until it returns true, the stream ends or
 * `signal` fires (then it resolves quietly). Rejects when the server cannot be reached or the
 * connection breaks.
 */
export function streamLines(url: URL, headers: Record<string, string>, onLine: (value: unknown) => boolean | void, signal?: AbortSignal): Promise<StreamEnd> {
  const mod = process.getBuiltinModule(url.protocol === 'https:' ? 'node:https' : 'node:http');
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return resolve({ status: 0 });
    const req = mod.get(url, { headers }, (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 299) {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status, errorBody: body }));
        return;
      }
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        try {
          for (let i = buf.indexOf('\n'); i !== -1; i = buf.indexOf('\n')) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (line && onLine(JSON.parse(line)) === true) {
              stop();
              return resolve({ status });
            }
          }
        } catch (err) {
          stop();
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
      res.on('end', () => resolve({ status }));
      res.on('error', (err) => (signal?.aborted || done ? resolve({ status }) : reject(err)));
    });
    let done = false;
    const stop = () => {
      done = true;
      signal?.removeEventListener('abort', onAbort);
      req.destroy();
    };
    const onAbort = () => {
      stop();
      resolve({ status: 0 });
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err) => (done ? undefined : reject(err)));
    req.on('close', () => signal?.removeEventListener('abort', onAbort));
  });
}
