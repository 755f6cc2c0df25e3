/**
 * Certificates for agent tests that need a CA the control plane does not own (another CA, a
 * self-signed client), made with @peculiar/x509 the way the control plane issues its own.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as Crypto);
const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A key pair and its certificate, as PEM. */
export interface Issued {
  key: string;
  cert: string;
  keys: CryptoKeyPair;
  x: x509.X509Certificate;
}

async function pemKey(k: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', k);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

/** A self-signed CA (or, with `ca: false`, a self-signed leaf). */
export async function selfSigned(cn: string, ca = true): Promise<Issued> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const x = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${cn}`,
    keys,
    signingAlgorithm: ALG,
    notBefore: new Date(Date.now() - 60_000),
    extensions: [new x509.BasicConstraintsExtension(ca, undefined, true), new x509.KeyUsagesExtension(ca ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign : x509.KeyUsageFlags.digitalSignature, true)],
  });
  return { key: await pemKey(keys.privateKey), cert: x.toString('pem'), keys, x };
}

/** A leaf certificate signed by `ca`: a server certificate for `ips`, or a client certificate. */
export async function issue(ca: Issued, cn: string, o: { server?: { ips: string[]; dns?: string[] }; notAfter?: Date }): Promise<Issued> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([o.server ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
  ];
  if (o.server) extensions.push(new x509.SubjectAlternativeNameExtension([...o.server.ips.map((ip) => ({ type: 'ip' as const, value: ip })), ...(o.server.dns ?? []).map((d) => ({ type: 'dns' as const, value: d }))]));
  const x = await x509.X509CertificateGenerator.create({
    subject: `CN=${cn}`,
    issuer: ca.x.subject,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: ALG,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: o.notAfter ?? new Date(Date.now() + 86_400_000),
    extensions,
  });
  return { key: await pemKey(keys.privateKey), cert: x.toString('pem'), keys, x };
}
