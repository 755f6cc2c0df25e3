/** Authentication (bearer tokens) and the first-start bootstrap of the admin user. */
import fs from 'node:fs';
import path from 'node:path';
import { ConflictError, ForbiddenError, InputError, NotFoundError, UnauthorizedError } from '../core/errors.ts';
import { assertName } from '../core/names.ts';
import { parseDuration } from '../core/units.ts';
import type { Store, TokenRow, UserRow } from '../store/store.ts';
import type { NewToken, Token, User } from '../sdk/wire.ts';
import { hashToken, newId, newToken } from './secrets.ts';

/** Who is calling: a user (with a user token) or a workspace (with its workspace token). */
export interface Principal {
  user: UserRow;
  tokenId: string;
  kind: 'user' | 'workspace';
  /** Set for workspace tokens: the only workspace this caller may touch. */
  workspaceId: string | null;
}

/** Converts a user row to its wire form. */
export function userToWire(u: UserRow): User {
  return { id: u.id, name: u.name, role: u.role, createdAt: u.created_at };
}

function tokenToWire(t: TokenRow): Token {
  return { id: t.id, name: t.name, createdAt: t.created_at, expiresAt: t.expires_at, revokedAt: t.revoked_at };
}

/** Issues, checks and revokes tokens. */
export class AuthService {
  constructor(private readonly store: Store, private readonly defaultTtlMs: number, private readonly now: () => Date = () => new Date()) {}

  /** Resolves an `Authorization` header to a principal, or throws UnauthorizedError. */
  async authenticate(header: string | undefined): Promise<Principal> {
    if (!header) throw new UnauthorizedError();
    const m = /^(Bearer|Basic)\s+(\S+)$/i.exec(header.trim());
    if (!m) throw new UnauthorizedError('The Authorization header must be "Bearer <token>".');
    let token = m[2]!;
    if (m[1]!.toLowerCase() === 'basic') {
      // Git clients send tokens as HTTP basic passwords; any user name is accepted.
      const decoded = Buffer.from(token, 'base64').toString('utf8');
      token = decoded.slice(decoded.indexOf(':') + 1);
    }
    if (!/^berth_[uw]_[A-Za-z0-9_-]{43}$/.test(token)) throw new UnauthorizedError('The token is malformed; Berth tokens start with berth_u_ or berth_w_.');
    const row = await this.store.findTokenByHash(hashToken(token));
    if (!row) throw new UnauthorizedError('The token is not valid.');
    if (row.revoked_at) throw new UnauthorizedError('The token has been revoked.');
    if (row.expires_at && row.expires_at <= this.now().toISOString()) throw new UnauthorizedError('The token has expired; create a new one.');
    const user = await this.store.getUser(row.user_id);
    if (!user) throw new UnauthorizedError('The token belongs to a user that no longer exists.');
    return { user, tokenId: row.id, kind: row.kind, workspaceId: row.workspace_id };
  }

  /** Rejects workspace tokens for routes that are for people only. */
  requireUser(p: Principal): void {
    if (p.kind !== 'user') throw new ForbiddenError('A workspace token cannot do this; use a user token.');
  }

  /** Rejects non-admins. */
  requireAdmin(p: Principal): void {
    this.requireUser(p);
    if (p.user.role !== 'admin') throw new ForbiddenError('Only an admin can do this.');
  }

  /** Creates a user token; the clear token is returned once and only its hash is kept. */
  async createUserToken(userId: string, name: string, ttl?: string): Promise<NewToken> {
    // Stored and listed as a label: a NUL cannot be stored in PostgreSQL, escapes would garble terminals.
    if (/[\x00-\x1f\x7f]/.test(name)) throw new InputError('The token name must not contain control characters or NUL bytes.');
    const ttlMs = ttl === undefined ? this.defaultTtlMs : parseDuration(ttl, 'ttl');
    if (ttlMs <= 0 || ttlMs > 3650 * 86_400_000) throw new InputError('ttl must be between 1s and 3650d.');
    const token = newToken('berth_u');
    const now = this.now();
    const row = {
      id: newId('tok'),
      kind: 'user' as const,
      user_id: userId,
      workspace_id: null,
      name,
      hash: hashToken(token),
      secret_enc: null,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + ttlMs).toISOString(),
      revoked_at: null,
    };
    await this.store.createToken(row);
    return { token, info: tokenToWire(row) };
  }

  async listTokens(p: Principal): Promise<Token[]> {
    this.requireUser(p);
    return (await this.store.listTokens(p.user.id)).map(tokenToWire);
  }

  async revokeToken(p: Principal, id: string): Promise<void> {
    this.requireUser(p);
    const t = await this.store.getToken(id);
    if (!t || t.kind !== 'user' || (t.user_id !== p.user.id && p.user.role !== 'admin')) throw new NotFoundError(`No token with id "${id}".`);
    await this.store.revokeToken(id, this.now().toISOString());
  }

  /** All users. */
  async listUsers(): Promise<User[]> {
    return (await this.store.listUsers()).map(userToWire);
  }

  /** Creates a user and their first token. */
  async createUser(name: string, role: 'admin' | 'user'): Promise<{ user: User; token: string }> {
    assertName(name, 'User name');
    const user = await this.store.createUser({ id: newId('usr'), name, role, created_at: this.now().toISOString() });
    const t = await this.createUserToken(user.id, 'initial');
    return { user: userToWire(user), token: t.token };
  }

  /**
   * On first start: creates the `admin` user and a token, writes them to `<dataDir>/admin-credentials`
   * (mode 0600) and returns the token so the caller can print it once. Later starts return null.
   */
  async bootstrap(dataDir: string, url: string): Promise<{ file: string; token: string } | null> {
    if ((await this.store.listUsers()).length > 0) return null;
    let created: { user: User; token: string };
    try {
      created = await this.createUser('admin', 'admin');
    } catch (err) {
      if (err instanceof ConflictError) return null; // another replica won the race
      throw err;
    }
    return { file: this.writeCredentials(dataDir, url, 'admin', created.token), token: created.token };
  }

  /**
   * Issues a fresh token for an admin (by default `admin`) and rewrites `<dataDir>/admin-credentials`:
   * the way back in when every admin token is lost or expired (`berth admin token`, run on the server's host).
   */
  async recoverAdmin(dataDir: string, url: string, name = 'admin', ttl?: string): Promise<{ file: string; token: string }> {
    const user = await this.store.getUserByName(name);
    if (!user) throw new NotFoundError(`No user named "${name}" in this data directory.`);
    if (user.role !== 'admin') throw new ForbiddenError(`User "${name}" is not an admin.`);
    const t = await this.createUserToken(user.id, 'recovered on the server host', ttl);
    return { file: this.writeCredentials(dataDir, url, name, t.token), token: t.token };
  }

  private writeCredentials(dataDir: string, url: string, user: string, token: string): string {
    const file = path.join(dataDir, 'admin-credentials');
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, `# Berth admin credentials, written ${this.now().toISOString()}\nBERTH_URL=${url}\nBERTH_USER=${user}\nBERTH_TOKEN=${token}\n`, { mode: 0o600 });
    fs.chmodSync(tmp, 0o600);
    fs.renameSync(tmp, file);
    return file;
  }
}
