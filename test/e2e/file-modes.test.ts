/** The data directory is private at every start: a pre-created 0755 directory and 0644 database files are tightened. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { TestServer, makeRepo, tempDir } from '../harness.ts';

const root = tempDir('berth-modes-');
after(() => fs.rmSync(root, { recursive: true, force: true }));

function mode(file: string): string {
  return (fs.statSync(file).mode & 0o777).toString(8).padStart(3, '0');
}

/** Modes of everything secret in the data directory, by relative path; absent files are left out. */
function secretModes(dataDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const files = ['.', 'berth.db', 'berth.db-wal', 'berth.db-shm', 'secret.key', 'admin-credentials', 'pki', 'pki/ca.key', 'git', 'git/.tmp'];
  for (const f of files) if (fs.existsSync(path.join(dataDir, f))) out[f] = mode(path.join(dataDir, f));
  return out;
}

test('a pre-created 0755 data directory and 0644 database files become 0700 and 0600 at start', async () => {
  const dataDir = path.join(root, 'data');
  fs.mkdirSync(dataDir, { mode: 0o755 });
  fs.chmodSync(dataDir, 0o755);
  // A database file created by an operator's tooling, under a permissive umask.
  fs.writeFileSync(path.join(dataDir, 'berth.db'), '', { mode: 0o644 });
  fs.chmodSync(path.join(dataDir, 'berth.db'), 0o644);
  const repoDir = path.join(root, 'repo');
  fs.mkdirSync(repoDir);
  let server = await TestServer.start({ dataDir });
  try {
    // Something is written, so the write-ahead log exists while the server runs; the sync makes the git mirror directory.
    await server.client().createProject({ name: 'modes', repo: makeRepo({ 'README.md': '# modes\n' }, repoDir) });
    await server.client().syncProject('modes');
    const first = secretModes(dataDir);
    assert.equal(first['.'], '700');
    for (const f of ['berth.db', 'berth.db-wal', 'berth.db-shm', 'secret.key', 'admin-credentials', 'pki/ca.key']) assert.equal(first[f], '600', `${f} is ${first[f] ?? 'missing'}`);
    assert.equal(first.pki, '700');
    assert.equal(first.git, '700');
    await server.stop({ keep: true });

    // Files widened while the server was down (a restore from backup, a careless chmod) are tightened again.
    fs.chmodSync(dataDir, 0o755);
    for (const f of ['berth.db', 'secret.key', 'admin-credentials', 'pki/ca.key']) fs.chmodSync(path.join(dataDir, f), 0o644);
    fs.chmodSync(path.join(dataDir, 'pki'), 0o755);
    fs.chmodSync(path.join(dataDir, 'git'), 0o755);
    server = await TestServer.start({ dataDir });
    await server.client().createProject({ name: 'modes2', repo: repoDir });
    const second = secretModes(dataDir);
    const want = Object.fromEntries(Object.keys(second).map((f) => [f, ['.', 'pki', 'git', 'git/.tmp'].includes(f) ? '700' : '600']));
    assert.deepEqual(second, want);
    assert.ok(second['berth.db-wal'] && second['berth.db-shm'], 'the write-ahead log files exist and were checked');
  } finally {
    await server.stop({ keep: true });
  }
});
