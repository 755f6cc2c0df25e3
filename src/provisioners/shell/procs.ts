/**
 * Records the process groups a shell workspace starts (in `<dir>/.berth/pids/`) so that a restarted
 * control plane can end what a killed one left behind. A record holds the kernel start time of the
 * process, so a recycled pid is never mistaken for ours.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Kind of recorded process: provisioning steps are killed before a new provision; all are killed on stop. */
export type ProcKind = 'provision' | 'exec';

function startTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime) follows the parenthesised command name, which may contain spaces.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** Process-group bookkeeping for one workspace directory. */
export class ProcessRecords {
  constructor(private readonly dir: string) {}

  /** Remembers a process group leader. */
  record(kind: ProcKind, pid: number): void {
    const st = startTime(pid);
    if (st === null) return;
    fs.mkdirSync(this.dir, { recursive: true });
    fs.writeFileSync(path.join(this.dir, `${kind}-${pid}`), st);
  }

  /** Forgets a process that ended. */
  forget(kind: ProcKind, pid: number): void {
    fs.rmSync(path.join(this.dir, `${kind}-${pid}`), { force: true });
  }

  /** Ends every recorded group of the given kinds: SIGTERM, then SIGKILL after `graceMs`. */
  async killAll(kinds: ProcKind[], graceMs = 2000): Promise<number> {
    let entries: string[];
    try {
      entries = fs.readdirSync(this.dir);
    } catch {
      return 0;
    }
    const live: number[] = [];
    for (const entry of entries) {
      const m = /^(provision|exec)-(\d+)$/.exec(entry);
      if (!m || !kinds.includes(m[1] as ProcKind)) continue;
      const pid = Number(m[2]);
      const recorded = fs.readFileSync(path.join(this.dir, entry), 'utf8');
      if (startTime(pid) === recorded) {
        live.push(pid);
        signalGroup(pid, 'SIGTERM');
      }
      fs.rmSync(path.join(this.dir, entry), { force: true });
    }
    const deadline = Date.now() + graceMs;
    while (live.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const pid of live) if (alive(pid)) signalGroup(pid, 'SIGKILL');
    return live.length;
  }
}

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}
