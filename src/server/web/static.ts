/**
 * Serves the built browser UI (dist/web, built by `npm run build`) at `/`: files as they are, and
 * index.html for any other GET a browser navigates to, so deep links such as /workspaces/ws_…
 * load the app. API, git and probe paths are never answered with the page.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Where `vite build` writes the UI: <repo>/dist/web, three levels up from both src/server/web and dist/server/web. */
export const DEFAULT_WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../dist/web');

/** Paths that belong to the API, the git gateway and the probes; a miss there is a 404, never the page. */
const RESERVED = /^\/(api|git|healthz|readyz|metrics)(\/|$|\?)/;

/**
 * Headers of the UI's responses: scripts from this origin only and no framing. Styles also allow
 * inline because xterm.js and React set element styles at run time; no inline script runs.
 */
const UI_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Berth</title></head>
<body><h1>The Berth web UI is not built</h1><p>The API works; to get the browser UI, run <code>npm run build</code> in the Berth checkout and restart the server.</p></body></html>`;

/** Registers the UI routes on the root scope. */
export async function staticRoutes(app: FastifyInstance, dir = DEFAULT_WEB_DIR): Promise<void> {
  // Its own cache headers are off: the page must be revalidated, hashed assets kept for good (set below).
  await app.register(fastifyStatic, { root: dir, serve: false, index: false, cacheControl: false, etag: true });
  const sendPage = (reply: FastifyReply) => {
    void reply.headers(UI_HEADERS);
    // Read per request, so a rebuild while the server runs is picked up (and a missing build is said so).
    if (!fs.existsSync(path.join(dir, 'index.html'))) return reply.status(500).type('text/html; charset=utf-8').send(NOT_BUILT);
    return reply.header('cache-control', 'no-cache').sendFile('index.html');
  };
  app.get('/', { schema: { hide: true } }, async (_req, reply) => sendPage(reply));
  app.get('/*', { schema: { hide: true } }, async (req, reply) => {
    const url = req.url.split('?')[0]!;
    if (RESERVED.test(url)) return reply.status(404).send({ error: { code: 'not_found', message: `No route GET ${url}.` } });
    // Built assets carry a content hash in their names: cached for good. A missing one is a 404, not the page.
    if (url.startsWith('/assets/')) {
      void reply.headers(UI_HEADERS);
      const file = path.join(dir, path.normalize(url).replace(/^(\.\.[/\\])+/, ''));
      if (!fs.existsSync(file)) return reply.status(404).send({ error: { code: 'not_found', message: `No file ${url}; reload the page (the UI was rebuilt).` } });
      return reply.header('cache-control', 'public, max-age=31536000, immutable').sendFile(url.slice(1));
    }
    if (url === '/favicon.svg' && fs.existsSync(path.join(dir, 'favicon.svg'))) return reply.headers(UI_HEADERS).sendFile('favicon.svg');
    return sendPage(reply);
  });
}
