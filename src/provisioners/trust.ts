/**
 * A team's own CA in a workspace's trust, the same on every provisioner. The file
 * `<mount>/.berth/ca.crt` (Berth's directory in the storage) holds the image's system bundle plus the
 * team's CA, and GIT_SSL_CAINFO, NODE_EXTRA_CA_CERTS, SSL_CERT_FILE and CURL_CA_BUNDLE point at it,
 * so git, Node, OpenSSL and curl trust a control plane signed by that CA and every public site as
 * before. Where the workspace runs as root and the image has `update-ca-certificates`, the CA also
 * goes into the system store, for tools that read only that.
 */
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';

/** The bundle's path relative to the workspace's mount path. */
export const TRUST_FILE = '.berth/ca.crt';

/** The team CA alone, next to the bundle (what the system store is given). */
const TEAM_FILE = '.berth/team-ca.crt';

/** Where images keep their system bundle: Debian/Ubuntu/Alpine, Fedora/RHEL, openSUSE, others. */
const SYSTEM_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/ca-bundle.pem', '/etc/ssl/cert.pem'];

/** The environment that points TLS clients at the bundle under `mountPath` (as the workspace sees it). */
export function trustEnv(mountPath: string): Record<string, string> {
  const file = `${mountPath.replace(/\/+$/, '')}/${TRUST_FILE}`;
  return { GIT_SSL_CAINFO: file, NODE_EXTRA_CA_CERTS: file, SSL_CERT_FILE: file, CURL_CA_BUNDLE: file };
}

/** A heredoc writing `pem` (reduced to PEM characters, so it cannot end the heredoc early) to `file`. */
function writePem(pem: string, file: string): string[] {
  return [`cat > "${file}.tmp" <<'BERTH_CA_EOF'`, pem.replace(/[^A-Za-z0-9+/=\n -]/g, '').trimEnd(), 'BERTH_CA_EOF', `chmod 644 "${file}.tmp"`, `mv -f "${file}.tmp" "${file}"`];
}

/**
 * POSIX sh scripts that install `pem` in a workspace, run inside it on every provision (a new
 * container starts from the image's store). `user` runs as the workspace's user, who owns the mount
 * path: it writes the bundle and fails only when it cannot. `root` runs as root where the runtime
 * allows: it adds the CA to the system store when the image has `update-ca-certificates`, and never fails.
 */
export function trustScripts(pem: string, mountPath: string): { user: string; root: string } {
  const d = `${mountPath.replace(/\/+$/, '')}/.berth`;
  const user = [
    'set -e',
    `mkdir -p "${d}"`,
    ...writePem(pem, `${d}/team-ca.crt`),
    `sys=; for f in ${SYSTEM_BUNDLES.join(' ')}; do if [ -r "$f" ]; then sys=$f; break; fi; done`,
    `{ if [ -n "$sys" ]; then cat "$sys"; echo; fi; cat "${d}/team-ca.crt"; } > "${d}/ca.crt.tmp"`,
    `chmod 644 "${d}/ca.crt.tmp"`,
    `mv -f "${d}/ca.crt.tmp" "${d}/ca.crt"`,
  ];
  const dir = '/usr/local/share/ca-certificates';
  const root = [
    `command -v update-ca-certificates >/dev/null 2>&1 && [ -d ${dir} ] && [ -w ${dir} ] || exit 0`,
    `{ ${writePem(pem, `${dir}/berth.crt`).join('\n')}\n} && update-ca-certificates >/dev/null 2>&1 || echo "berth: the system store could not take the CA; it is trusted through ${TRUST_FILE} only" >&2`,
    'exit 0',
  ];
  return { user: `${user.join('\n')}\n`, root: `${root.join('\n')}\n` };
}

/**
 * Installs `pem` into a workspace directory on this host (the shell provisioner): the host's system
 * bundle, or Node's own roots when it has none, plus the team CA. The host's system store is never touched.
 */
export function installTrustOnHost(pem: string, dir: string): void {
  const system = SYSTEM_BUNDLES.find((f) => fs.existsSync(f));
  const roots = system ? fs.readFileSync(system, 'utf8') : tls.rootCertificates.join('\n');
  const target = path.join(dir, TRUST_FILE);
  fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(dir, TEAM_FILE), pem, { mode: 0o644 });
  const tmp = `${target}.tmp`;
  fs.writeFileSync(tmp, `${roots.trimEnd()}\n${pem}`, { mode: 0o644 });
  fs.renameSync(tmp, target);
}
