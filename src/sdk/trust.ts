/** Trusting a team's own CA in a client process (the CLI, the agent, tests) without restarting it with NODE_EXTRA_CA_CERTS. */
import fs from 'node:fs';
import { InputError } from '../core/errors.ts';

/**
 * Adds the PEM certificates in `file` to this process's default CA list, on top of Node's own
 * roots, so `https`, `fetch` and WebSockets trust a server signed by that CA. Throws with a
 * sentence naming `what` (the option or variable) when the file cannot be read or holds no certificate.
 */
export function trustCaFile(file: string, what = 'BERTH_CA_BUNDLE'): void {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`Cannot read the CA bundle ${file} (${what}): ${(err as Error).message}.`);
  }
  const certs = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!certs) throw new InputError(`The CA bundle ${file} (${what}) holds no PEM certificate.`);
  // Loaded only when asked: most commands never need node:tls's certificate store.
  const tls = process.getBuiltinModule('node:tls');
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), ...certs]);
}
