/**
 * The record of warm-pool entries, written before anything is created for one: a control plane
 * killed at any point finds every entry it may have left on a backend and removes the ones it cannot
 * trust. A small JSON file in the data directory, replaced atomically (the pool is this process's own).
 */
import fs from 'node:fs';
import path from 'node:path';

/** One pool entry: a workspace id reserved for a runtime prepared for no user. */
export interface PoolEntry {
  /** A workspace id never given to a workspace yet; the claiming workspace gets it. */
  id: string;
  key: string;
  provisioner: string;
  /** `creating` until provision returned; such an entry found at start is removed, never handed out. */
  state: 'creating' | 'ready';
  createdAt: string;
  /** The mirror's commit of the pool's ref, read before the checkout was made; undefined without a gateway mirror. */
  commit?: string;
}

/** The pool's entries on disk. */
export class PoolJournal {
  private readonly file: string;
  private entries = new Map<string, PoolEntry>();

  constructor(dir: string) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.file = path.join(dir, 'warm-pool.json');
    if (fs.existsSync(this.file)) for (const e of JSON.parse(fs.readFileSync(this.file, 'utf8')) as PoolEntry[]) this.entries.set(e.id, e);
  }

  all(): PoolEntry[] {
    return [...this.entries.values()];
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** Records or updates an entry, durably, before the caller goes on. */
  put(e: PoolEntry): void {
    this.entries.set(e.id, e);
    this.flush();
  }

  remove(id: string): void {
    if (this.entries.delete(id)) this.flush();
  }

  private flush(): void {
    const tmp = `${this.file}.tmp`;
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, JSON.stringify(this.all()));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.file);
  }
}
