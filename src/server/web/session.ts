/**
 * Browser sessions: a user token exchanged for an HttpOnly cookie. The cookie holds the token
 * encrypted with the server's secret key (so sessions survive restarts and work on every replica)
 * plus a random CSRF value the page must echo in a header on state-changing requests.
 */
import crypto from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ForbiddenError, UnauthorizedError } from '../../core/errors.ts';
import type { AuthService, Principal } from '../auth.ts';
import type { SecretBox } from '../secrets.ts';

/** The session cookie's name. */
export const SESSION_COOKIE = 'berth_session';
/** The header that carries the CSRF value on state-changing requests made with the cookie. */
export const CSRF_HEADER = 'x-berth-csrf';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** What the cookie holds, sealed. */
interface Sealed {
  /** The user token the session was opened with; checked (revocation, expiry) on every request. */
  t: string;
  /** The CSRF value, also the session's id for sign-out. */
  c: string;
  /** Expiry, ms since the epoch. */
  e: number;
}

/** A session as the routes see it. */
export interface Session {
  principal: Principal;
  csrf: string;
  expiresAt: Date;
}

/** Opens, reads and closes browser sessions; authenticates requests by bearer token or cookie. */
export class SessionService {
  /** Sessions signed out before their expiry: csrf value → expiry. Forgotten at restart (documented in docs/web-ui.md). */
  private readonly closed = new Map<string, number>();

  constructor(
    private readonly auth: AuthService,
    private readonly box: SecretBox,
    private readonly ttlMs = 12 * 3_600_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Checks a user token and returns the cookie value and session for it. */
  async open(token: string): Promise<{ cookie: string; session: Session }> {
    const principal = await this.auth.authenticate(`Bearer ${token}`);
    this.auth.requireUser(principal);
    const sealed: Sealed = { t: token, c: crypto.randomBytes(24).toString('base64url'), e: this.now() + this.ttlMs };
    return { cookie: this.box.encrypt(JSON.stringify(sealed)), session: { principal, csrf: sealed.c, expiresAt: new Date(sealed.e) } };
  }

  /** The session a cookie value stands for; throws UnauthorizedError when it is invalid, expired or signed out. */
  async read(cookie: string): Promise<Session> {
    let sealed: Sealed;
    try {
      sealed = JSON.parse(this.box.decrypt(cookie)) as Sealed;
    } catch {
      throw new UnauthorizedError('The session is not valid; sign in again.');
    }
    if (sealed.e <= this.now() || this.closed.has(sealed.c)) throw new UnauthorizedError('The session has ended; sign in again.');
    const principal = await this.auth.authenticate(`Bearer ${sealed.t}`);
    return { principal, csrf: sealed.c, expiresAt: new Date(sealed.e) };
  }

  /** Ends a session before its expiry. */
  close(session: Session): void {
    const t = this.now();
    for (const [c, e] of this.closed) if (e <= t) this.closed.delete(c);
    this.closed.set(session.csrf, session.expiresAt.getTime());
  }

  /**
   * The caller of an API request: the bearer token when there is an Authorization header (API
   * clients, unchanged), else the session cookie, which needs the CSRF header on state-changing
   * requests and, when the browser sends an Origin (always on WebSockets), the server's own origin.
   */
  async authenticate(req: FastifyRequest): Promise<Principal> {
    const cookie = req.cookies[SESSION_COOKIE];
    if (req.headers.authorization || !cookie) return this.auth.authenticate(req.headers.authorization);
    const session = await this.read(cookie);
    assertSameOrigin(req);
    if (!SAFE_METHODS.has(req.method) && !csrfMatches(req.headers[CSRF_HEADER], session.csrf)) {
      throw new ForbiddenError(`This request came with the session cookie but without a valid ${CSRF_HEADER} header; reload the page and try again.`);
    }
    return session.principal;
  }

  /** Sets the session cookie: HttpOnly, SameSite=Strict, Path=/, Secure over HTTPS. */
  static setCookie(req: FastifyRequest, reply: FastifyReply, value: string, expires: Date): void {
    void reply.setCookie(SESSION_COOKIE, value, { httpOnly: true, sameSite: 'strict', path: '/', secure: req.protocol === 'https', expires });
  }

  /** Removes the session cookie from the browser. */
  static clearCookie(req: FastifyRequest, reply: FastifyReply): void {
    void reply.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'strict', path: '/', secure: req.protocol === 'https' });
  }
}

function csrfMatches(header: string | string[] | undefined, expected: string): boolean {
  if (typeof header !== 'string') return false;
  const a = Buffer.from(header);
  const b = Buffer.from(expected);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/**
 * A cookie request (or a sign-in) that names an Origin must name this server: WebSockets are not
 * covered by SameSite on every browser path, and a page of another origin on the same site could
 * otherwise open a terminal with the user's cookie.
 */
export function assertSameOrigin(req: FastifyRequest): void {
  const origin = req.headers.origin;
  if (origin === undefined) return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    host = '';
  }
  if (host !== req.headers.host) throw new ForbiddenError(`Requests from ${origin} cannot use this server's session cookie; open the UI at the server's own address.`);
}
