/** Encryption of secrets at rest (AES-256-GCM) and hashing of tokens. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../core/errors.ts';

/** Encrypts and decrypts small secrets with one key. Ciphertext format: `v1:<iv>:<tag>:<data>` in base64url. */
export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /** Uses `base64Key` when given, otherwise `<dataDir>/secret.key`, created (mode 0600) if missing. */
  static open(dataDir: string, base64Key?: string): SecretBox {
    if (base64Key) {
      const key = Buffer.from(base64Key, 'base64');
      if (key.length !== 32) throw new InputError('BERTH_SECRET_KEY (--secret-key) must be 32 random bytes encoded in base64, e.g. the output of: openssl rand -base64 32');
      return new SecretBox(key);
    }
    const file = path.join(dataDir, 'secret.key');
    if (!fs.existsSync(file)) {
      fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      try {
        fs.writeFileSync(file, crypto.randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    const key = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new InputError(`${file} does not hold a 32-byte base64 key; restore it from your backup (secrets stored with another key cannot be read).`);
    return new SecretBox(key);
  }

  encrypt(plain: string): string {
    const iv = crypto.randomBytes(12);
    const c = crypto.createCipheriv('aes-256-gcm', this.key, iv);
    const data = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return ['v1', iv.toString('base64url'), c.getAuthTag().toString('base64url'), data.toString('base64url')].join(':');
  }

  decrypt(sealed: string): string {
    const [v, iv, tag, data] = sealed.split(':');
    if (v !== 'v1' || !iv || !tag || data === undefined) throw new Error('Unrecognised ciphertext.');
    const d = crypto.createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    d.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([d.update(Buffer.from(data, 'base64url')), d.final()]).toString('utf8');
  }
}

/** Generates a token: a readable prefix plus 32 random bytes. */
export function newToken(prefix: 'berth_u' | 'berth_w'): string {
  return `${prefix}_${crypto.randomBytes(32).toString('base64url')}`;
}

/** SHA-256 of a token; tokens carry 256 random bits, so a fast hash is enough to make the stored form useless. */
export function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token).digest('hex');
}

/** A short random id with a type prefix, e.g. `ws_3kd9…`. */
export function newId(prefix: string): string {
  return `${prefix}_${crypto.randomBytes(10).toString('hex')}`;
}
