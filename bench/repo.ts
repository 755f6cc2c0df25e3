/** Generated git repositories for benchmarks. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Creates a repository with `files` files and `commits` commits (each commit touches a few files),
 * built with `git fast-import` so even thousands of commits take seconds. Cached per shape under the
 * system temp directory.
 */
export function generatedRepo(files: number, commits: number): string {
  const dir = path.join(os.tmpdir(), `berth-bench-repo-${files}f-${commits}c`);
  if (fs.existsSync(path.join(dir, '.git', 'berth-complete'))) return dir;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('git', ['init', '-q', '-b', 'main', dir]);
  const lines: string[] = [];
  const ts = 1_700_000_000;
  for (let c = 0; c < commits; c++) {
    const msg = `commit ${c}`;
    lines.push('commit refs/heads/main', `committer Bench <bench@example.com> ${ts + c} +0000`, `data ${Buffer.byteLength(msg)}`, msg);
    const touched = c === 0 ? Array.from({ length: files }, (_, i) => i) : [c % files, (c * 7) % files, (c * 13) % files];
    for (const i of touched) {
      const content = `file ${i}\nrevision ${c}\n${'x'.repeat(200 + (i % 50))}\n`;
      lines.push(`M 644 inline src/dir${i % 40}/file${i}.txt`, `data ${Buffer.byteLength(content)}`, content);
    }
    lines.push('');
  }
  execFileSync('git', ['fast-import', '--quiet'], { cwd: dir, input: lines.join('\n') });
  execFileSync('git', ['checkout', '-q', '-f', 'main'], { cwd: dir });
  fs.writeFileSync(path.join(dir, '.git', 'berth-complete'), '');
  return dir;
}
