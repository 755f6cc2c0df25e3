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

/** chmod, ignoring a file that is not there; a path owned by another user (a volume's mount point) is reported, not fatal. */
function chmodIfPresent(file: string, mode: number, notOurs: string[]): void {
  try {
    fs.chmodSync(file, mode);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EPERM') notOurs.push(file);
    else if (code !== 'ENOENT') throw err;
  }
}

/**
 * Creates the data directory if needed and makes it and its secret subdirectories 0700, its secret
 * files 0600. Returns the paths it could not change because another user owns them (e.g. the root
 * of a volume mounted for a non-root server), for the caller to warn about.
 */
export function secureDataDir(dataDir: string): string[] {
  const notOurs: string[] = [];
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodIfPresent(dataDir, 0o700, notOurs);
  for (const d of PRIVATE_DIRS) chmodIfPresent(path.join(dataDir, d), 0o700, notOurs);
  for (const f of PRIVATE_FILES) chmodIfPresent(path.join(dataDir, f), 0o600, notOurs);
  const pki = path.join(dataDir, 'pki');
  if (fs.existsSync(pki)) for (const f of fs.readdirSync(pki)) if (f.endsWith('.key')) chmodIfPresent(path.join(pki, f), 0o600, notOurs);
  return notOurs;
}

/** The warning for paths `secureDataDir` could not change, or undefined when there are none. */
export function notOursWarning(paths: string[]): string | undefined {
  if (paths.length === 0) return undefined;
  return `Cannot restrict the mode of ${paths.join(', ')}: another user owns it; make sure only the server's user can read the data directory.`;
}
