/**
 * The files behind `--tls-cert`, `--tls-key` and `--ca-bundle`, read once at start: a file that
 * cannot be read or holds no PEM certificate fails start-up with a sentence naming the option.
 */
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import type { Logger } from 'pino';
import { InputError, errorMessage } from '../core/errors.ts';
import type { ServerConfig } from './config.ts';

/** What the HTTPS listener is given. */
export interface TlsFiles {
  cert: string;
  key: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function read(file: string, flag: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`Cannot read ${flag} ${file}: ${errorMessage(err)}.`);
  }
}

/** The PEM certificates in `text`, each checked to parse; throws InputError naming `flag` when there is none or one is broken. */
export function pemCertificates(text: string, flag: string, file: string): string[] {
  const certs = text.match(PEM_CERT) ?? [];
  if (certs.length === 0) throw new InputError(`${flag} ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----).`);
  for (const [i, pem] of certs.entries()) {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw new InputError(`Certificate ${i + 1} in ${flag} ${file} cannot be parsed: ${errorMessage(err)}.`);
    }
  }
  return certs;
}

/** The certificate and key to serve HTTPS with, or undefined for plain HTTP; warns when the key is readable by others. */
export function loadTlsFiles(cfg: Pick<ServerConfig, 'tlsCert' | 'tlsKey'>, logger: Logger): TlsFiles | undefined {
  if (!cfg.tlsCert || !cfg.tlsKey) return undefined;
  const cert = read(cfg.tlsCert, '--tls-cert');
  pemCertificates(cert, '--tls-cert', cfg.tlsCert);
  const key = read(cfg.tlsKey, '--tls-key');
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) throw new InputError(`--tls-key ${cfg.tlsKey} holds no PEM private key.`);
  const mode = fs.statSync(cfg.tlsKey).mode & 0o777;
  // Only a warning: the key may sit on a volume whose modes the operator cannot change (a mounted Secret).
  if (mode & 0o077) logger.warn({ file: cfg.tlsKey, mode: mode.toString(8) }, `the TLS key ${cfg.tlsKey} is readable by other users (mode ${mode.toString(8)}); chmod 600 it`);
  return { cert, key };
}

/** The CA bundle given with `--ca-bundle`, normalized to its certificates only, or undefined. */
export function loadCaBundle(cfg: Pick<ServerConfig, 'caBundle'>): string | undefined {
  if (!cfg.caBundle) return undefined;
  return `${pemCertificates(read(cfg.caBundle, '--ca-bundle'), '--ca-bundle', cfg.caBundle).join('\n')}\n`;
}
