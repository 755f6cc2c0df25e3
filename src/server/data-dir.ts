/**
 * Permissions of the data directory, fixed at every start whatever existed before: the directory
 * and those of its subdirectories that hold secrets 0700, the database and key files 0600.
 * chmod, not creation modes, so neither the umask nor an operator's pre-created 0755 directory or
 * 0644 files leave the database, keys or tokens readable by other local users.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Subdirectories holding keys or repository data with credentials in transit. */
const PRIVATE_DIRS = ['pki', 'git', path.join('git', '.tmp')];
/** Files holding secrets: the SQLite database and its journals, the secret key, the admin token. */
const PRIVATE_FILES = ['berth.db', 'berth.db-wal', 'berth.db-shm', 'berth.db-journal', 'secret.key', 'admin-credentials'];

function chmodIfPresent(file: string, mode: number): void {
  try {
    fs.chmodSync(file, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Creates the data directory if needed and makes it and its secret subdirectories 0700, its secret files 0600. */
export function secureDataDir(dataDir: string): void {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dataDir, 0o700);
  for (const d of PRIVATE_DIRS) chmodIfPresent(path.join(dataDir, d), 0o700);
  for (const f of PRIVATE_FILES) chmodIfPresent(path.join(dataDir, f), 0o600);
  const pki = path.join(dataDir, 'pki');
  if (fs.existsSync(pki)) for (const f of fs.readdirSync(pki)) if (f.endsWith('.key')) chmodIfPresent(path.join(pki, f), 0o600);
}
