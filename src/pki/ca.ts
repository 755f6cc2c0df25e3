/**
 * The control plane's certificate authority for agents. Created once under `<dataDir>/pki` (the
 * directory 0700, the key 0600) and loaded at every start. It signs each agent's server
 * certificate from a CSR made on the agent host, with the SANs the admin gave at `agent add` (not
 * whatever the CSR asks), and issues the client certificate the control plane presents to that
 * one agent.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { InputError } from '../core/errors.ts';
import { KEY_ALG, fingerprint, generateKey, importKeyPair, x509 } from './x509.ts';

const DAY = 86_400_000;
/** The CA outlives every certificate it signs. */
const CA_DAYS = 3650;
/** Agent server and client certificates; rotation is a re-enrollment. */
const LEAF_DAYS = 730;
/** Issued certificates start a little in the past, so that a host whose clock lags accepts them. */
const BACKDATE_MS = 5 * 60_000;

/** A certificate the CA issued. */
export interface IssuedCertificate {
  cert: string;
  /** SHA-256, upper-case hex, colon-separated (node's `fingerprint256`). */
  fingerprint: string;
  notAfter: Date;
}

/** A client certificate with its key (PKCS#8 PEM). */
export interface IssuedClient extends IssuedCertificate {
  key: string;
}

/** Options of `CertificateAuthority.open`. */
export interface CaOptions {
  /** The clock certificates are dated by (tests). */
  now?: () => Date;
}

/** Writes a file through a temporary name so that a reader never sees half of it. */
function writeAtomic(file: string, data: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

/** The control plane's agent CA. */
export class CertificateAuthority {
  private constructor(
    private readonly keys: CryptoKeyPair,
    private readonly x: x509.X509Certificate,
    /** The CA certificate, PEM. */
    readonly certPem: string,
    private readonly now: () => Date,
  ) {}

  /** Loads the CA from `dir` (`ca.key`, `ca.crt`), creating it on first use. */
  static async open(dir: string, o: CaOptions = {}): Promise<CertificateAuthority> {
    const now = o.now ?? (() => new Date());
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.chmodSync(dir, 0o700);
    const keyFile = path.join(dir, 'ca.key');
    const certFile = path.join(dir, 'ca.crt');
    if (!fs.existsSync(certFile) || !fs.existsSync(keyFile)) {
      const { keys, keyPem } = await generateKey();
      const start = now();
      const x = await x509.X509CertificateGenerator.createSelfSigned({
        name: [{ CN: ['Berth agent CA'] }],
        keys,
        signingAlgorithm: KEY_ALG,
        notBefore: new Date(start.getTime() - BACKDATE_MS),
        notAfter: new Date(start.getTime() + CA_DAYS * DAY),
        extensions: [
          new x509.BasicConstraintsExtension(true, 0, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        ],
      });
      // The key first: a present certificate means a complete CA.
      writeAtomic(keyFile, keyPem, 0o600);
      writeAtomic(certFile, x.toString('pem'), 0o644);
    }
    const certPem = fs.readFileSync(certFile, 'utf8');
    const keys = await importKeyPair(fs.readFileSync(keyFile, 'utf8'), certPem);
    return new CertificateAuthority(keys, new x509.X509Certificate(certPem), certPem, now);
  }

  /** SHA-256 fingerprint of the CA certificate. */
  get fingerprint(): string {
    return fingerprint(this.certPem);
  }

  /**
   * Signs an agent's CSR as its server certificate. The subject is CN=`agentName`; the SANs are
   * `hosts` (IP addresses or DNS names, from the URL given at `agent add`), never the CSR's own.
   */
  async signAgentCsr(csrPem: string, o: { agentName: string; hosts: string[] }): Promise<IssuedCertificate> {
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem);
    } catch (err) {
      throw new InputError('The certificate signing request is not a PEM PKCS#10 request.', { cause: err });
    }
    const alg = csr.publicKey.algorithm as EcKeyAlgorithm;
    if (alg.name !== 'ECDSA' || alg.namedCurve !== 'P-256') throw new InputError('The certificate signing request must carry an ECDSA P-256 key (berth agent enroll makes one).');
    if (!(await csr.verify())) throw new InputError('The certificate signing request is not signed by its own key.');
    if (o.hosts.length === 0) throw new InputError(`Agent "${o.agentName}" has no host to certify.`);
    const names = o.hosts.map((h) => ({ type: net.isIP(h) ? ('ip' as const) : ('dns' as const), value: h }));
    return this.issue(o.agentName, csr.publicKey, [x509.ExtendedKeyUsage.serverAuth], [new x509.SubjectAlternativeNameExtension(names)]);
  }

  /** A client certificate (and its new key) the control plane presents to the one agent it names. */
  async issueClient(commonName: string): Promise<IssuedClient> {
    const { keys, keyPem } = await generateKey();
    return { ...(await this.issue(commonName, keys.publicKey, [x509.ExtendedKeyUsage.clientAuth], [])), key: keyPem };
  }

  private async issue(commonName: string, publicKey: CryptoKey | x509.PublicKey, usages: x509.ExtendedKeyUsageType[], more: x509.Extension[]): Promise<IssuedCertificate> {
    const start = this.now();
    const notAfter = new Date(Math.min(start.getTime() + LEAF_DAYS * DAY, this.x.notAfter.getTime()));
    const x = await x509.X509CertificateGenerator.create({
      subject: [{ CN: [commonName] }],
      issuer: this.x.subject,
      publicKey,
      signingKey: this.keys.privateKey,
      signingAlgorithm: KEY_ALG,
      notBefore: new Date(start.getTime() - BACKDATE_MS),
      notAfter,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension(usages),
        await x509.AuthorityKeyIdentifierExtension.create(this.keys.publicKey),
        ...more,
      ],
    });
    const cert = x.toString('pem');
    return { cert, fingerprint: fingerprint(cert), notAfter };
  }
}
