/**
 * X.509 building blocks shared by the control plane's CA and the agent's enrollment: ECDSA P-256
 * keys through WebCrypto, PEM encoding, CSRs and SHA-256 fingerprints, all with @peculiar/x509
 * (no hand-written ASN.1).
 */
import 'reflect-metadata';
import { X509Certificate as NodeCertificate, webcrypto } from 'node:crypto';
import net from 'node:net';
import * as x509 from '@peculiar/x509';
import { InputError } from '../core/errors.ts';

x509.cryptoProvider.set(webcrypto as Crypto);

/** The one key and signature algorithm Berth issues and accepts. */
export const KEY_ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A key pair with its private key as PKCS#8 PEM. */
export interface PemKeyPair {
  keys: CryptoKeyPair;
  /** PKCS#8 PEM of the private key. */
  keyPem: string;
}

/** Generates an extractable ECDSA P-256 key pair. */
export async function generateKey(): Promise<PemKeyPair> {
  const keys = (await webcrypto.subtle.generateKey(KEY_ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  return { keys, keyPem: await privateKeyPem(keys.privateKey) };
}

/** The agent's key, generated on the agent host; it never leaves it. */
export const generateAgentKey = generateKey;

/** PKCS#8 PEM of a private key. */
export async function privateKeyPem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

/** Reads a PKCS#8 PEM private key and its public half (from the certificate that carries it). */
export async function importKeyPair(keyPem: string, certPem: string): Promise<CryptoKeyPair> {
  const privateKey = (await webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(keyPem), KEY_ALG, true, ['sign'])) as CryptoKey;
  const publicKey = await new x509.X509Certificate(certPem).publicKey.export(KEY_ALG, ['verify']);
  return { privateKey, publicKey };
}

/** A PEM certificate signing request for `keys`, with subject CN=`commonName`. */
export async function makeCsr(keys: CryptoKeyPair, commonName: string): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: [{ CN: [commonName] }], keys, signingAlgorithm: KEY_ALG });
  return csr.toString('pem');
}

/** SHA-256 fingerprint of a PEM certificate as node prints it (upper-case hex, colon-separated). */
export function fingerprint(certPem: string): string {
  return new NodeCertificate(certPem).fingerprint256;
}

/** The subject-alternative-name entry for the host of an agent's URL: an IP address or a DNS name. */
export function sanOfUrl(url: string): { type: 'ip' | 'dns'; value: string } {
  let host: string;
  try {
    const u = new URL(url);
    if (u.protocol !== 'https:') throw new Error('not https');
    host = u.hostname.replace(/^\[|\]$/g, '');
  } catch {
    throw new InputError(`The agent URL "${url}" must be https://HOST:PORT (an IP address or a DNS name).`);
  }
  if (!host) throw new InputError(`The agent URL "${url}" names no host.`);
  return { type: net.isIP(host) ? 'ip' : 'dns', value: host };
}

export { x509 };
