/**
 * The provisioner conformance suite: one set of cases every Provisioner must pass against its real
 * backend (shell on this host, Docker engines local and remote; Kubernetes and the agent next),
 * like the store suite runs on every dialect. Each case drives an instance built through its
 * plug-in directly and asserts what a user would notice: idempotent lifecycle calls, files that
 * survive, orphans found and removed, exec semantics, an inspect that changes nothing, secrets kept
 * out of labels, files and logs, and capabilities that are either refused up front or really honoured.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { InputError } from '../../src/core/errors.ts';
import { normalizeSpec, type SpecInput } from '../../src/core/spec.ts';
import type { Capabilities, Provisioner, WorkspaceContext } from '../../src/provisioners/provisioner.ts';
import { validateSpecFor } from '../../src/provisioners/registry.ts';
import { minimalContext, op, run, testRepo, waitForOutput, workspaceContext, workspaceId } from './fixtures.ts';

/** Something a backend holds: a runtime (process set, container, pod), storage, or a temporary leftover of an operation. */
export interface BackendObject {
  kind: 'runtime' | 'storage' | 'temp' | 'other';
  /** Workspace it belongs to, when it belongs to one. */
  workspace?: string;
  /** Name and observable state, e.g. `container berth-ws_… running`. */
  what: string;
}

/** One backend the suite runs against, and how to look behind the Provisioner at it. */
export interface ConformanceBackend {
  label: string;
  /** Builds the instance through its plug-in (see fixtures.ts `buildProvisioner`). */
  build(): Promise<Provisioner>;
  /** Spec fields every workspace needs on this backend (an image, say). */
  baseSpec: SpecInput;
  /** Where the checkout comes from: a clone URL, or a bundle for engines that cannot see this host. */
  project(repo: string): WorkspaceContext['project'];
  /** With the image capability: a command whose output shows which image runs, and what it must print. */
  image?: { cmd: string[]; expect: RegExp };
  /** With the user capability: a user of the image other than its default. */
  user?: string;
  /** With the registryLogins capability: a private image and a login that can pull it. */
  privateImage?: { image: string; login: { registry: string; username: string; password: string } };
  /** Everything the backend holds for this provisioner, listed from the backend itself (not through the Provisioner). */
  objects(): Promise<BackendObject[]>;
  /** Paths (relative to the workspace's storage) of files containing `needle`. */
  filesContaining(id: string, needle: string): Promise<string[]>;
  /** What the backend shows about a workspace outside its files: names and labels (`public`), and everything including the runtime's environment (`all`). */
  metadata(id: string): Promise<{ public: string; all: string }>;
  /** The workspace's storage on this host, where it is on this host's filesystem. */
  hostPath?(id: string): string | undefined;
  cleanup?(): Promise<void>;
}

const GOVERNED: { capability: keyof Capabilities; field: string; spec: SpecInput }[] = [
  { capability: 'image', field: 'image', spec: { image: 'busybox:latest' } },
  { capability: 'user', field: 'user', spec: { user: 'nobody' } },
  { capability: 'resources', field: 'resources', spec: { resources: { memory: '128MiB' } } },
  { capability: 'registryLogins', field: 'registryLogins', spec: { registryLogins: [{ registry: '127.0.0.1:5000', username: 'u', password: 'p' }] } },
];

const MEMORY = 256 * 1024 * 1024;

/** Registers the conformance cases for one backend (call inside a `describe`). */
export function provisionerConformance(backend: ConformanceBackend): void {
  let p: Provisioner;
  let repo: { dir: string; head: string };
  let bigRepo: { dir: string; head: string };
  /** The workspace most cases share: provisioned once, read by several cases, stopped and destroyed at the end. */
  let main: WorkspaceContext;
  const created = new Set<string>();

  const objectsOf = async (id: string) => (await backend.objects()).filter((o) => o.workspace === id);
  const names = (os: BackendObject[]) => os.map((o) => `${o.kind} ${o.what}`).sort();
  const context = (project: WorkspaceContext['project'], spec: SpecInput = {}) => {
    const ws = workspaceContext(workspaceId(), project, { ...backend.baseSpec, ...spec });
    created.add(ws.id);
    return ws;
  };

  before(async () => {
    p = await backend.build();
    repo = testRepo();
    bigRepo = testRepo(48);
    // The shared workspace uses every capability the provisioner claims, so that honouring each is checked.
    const caps = p.capabilities;
    main = context(backend.project(repo.dir), {
      ...(caps.user && backend.user ? { user: backend.user } : {}),
      ...(caps.resources ? { resources: { memory: MEMORY } } : {}),
    });
  });

  after(async () => {
    for (const id of created) await p?.destroy(minimalContext(id), op()).catch(() => undefined);
    await p?.close();
    for (const r of [repo, bigRepo]) if (r) fs.rmSync(r.dir, { recursive: true, force: true });
    await backend.cleanup?.();
  });

  test('validateSpecFor refuses, naming the field, every spec field the capabilities exclude', async () => {
    for (const g of GOVERNED) {
      const spec = normalizeSpec({ ...backend.baseSpec, ...g.spec });
      if (p.capabilities[g.capability]) {
        // Accepted here; that it is really honoured is checked in a provisioned workspace below.
        await validateSpecFor(p, spec);
      } else {
        await assert.rejects(validateSpecFor(p, spec), (err: unknown) => {
          assert.ok(err instanceof InputError, `${g.field}: ${String(err)}`);
          assert.match(err.message, new RegExp(`spec\\.${g.field}`));
          return true;
        });
      }
    }
    await validateSpecFor(p, normalizeSpec(backend.baseSpec));
  });

  test('provision leaves a running workspace with the checkout; provisioning again converges on the same one', async () => {
    await validateSpecFor(p, main.spec);
    const first = op();
    const status = await p.provision(main, first);
    assert.equal(status.state, 'running', first.lines.join('\n'));
    assert.equal(status.storage, true);
    let r = await run(p, main, ['cat', 'README.md', 'src/app.txt']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '# conformance\nhello from the repo\n');
    r = await run(p, main, ['sh', '-c', 'echo kept > notes.txt']);
    assert.equal(r.code, 0, r.stderr);
    const before = names(await objectsOf(main.id));
    assert.equal((await objectsOf(main.id)).filter((o) => o.kind === 'runtime').length, 1, `one runtime: ${before.join(', ')}`);

    const again = op();
    assert.equal((await p.provision(main, again)).state, 'running');
    assert.ok(again.lines.some((l) => /already present/.test(l)), `the checkout is kept, not cloned again:\n${again.lines.join('\n')}`);
    assert.deepEqual(names(await objectsOf(main.id)), before, 'the same storage and still one runtime');
    r = await run(p, main, ['cat', 'notes.txt']);
    assert.equal(r.stdout, 'kept\n', 'a file written in the checkout survives');
    assert.ok((await p.list()).includes(main.id), 'list() includes a provisioned workspace');
  });

  test('with the fork capability, copyStorage gives a new workspace the files of a running one (uncommitted too); provision adopts them; the two diverge', async () => {
    if (!p.capabilities.fork) {
      assert.ok(!('copyStorage' in p), 'a provisioner without the fork capability has no copyStorage');
      return;
    }
    assert.ok('copyStorage' in p, 'the fork capability comes with copyStorage');
    const fork = context(main.project, { ...(main.spec.user ? { user: main.spec.user } : {}), ...(p.capabilities.resources ? { resources: { memory: MEMORY } } : {}) });
    await p.copyStorage!(main, fork, op());
    // Again, as after a crash mid-copy: the copy is replaced by a whole one.
    await p.copyStorage!(main, fork, op());
    assert.deepEqual(((s) => [s.state, s.storage])(await p.inspect(fork.id)), ['stopped', true], 'a copy is storage, not a runtime');
    const o = op();
    assert.equal((await p.provision(fork, o)).state, 'running', o.lines.join('\n'));
    assert.ok(o.lines.some((l) => /already present/.test(l)), `the copied checkout is adopted, not cloned:\n${o.lines.join('\n')}`);
    assert.equal((await run(p, fork, ['cat', 'notes.txt'])).stdout, 'kept\n');
    assert.equal((await run(p, fork, ['git', 'status', '--porcelain'])).stdout, '?? notes.txt\n');
    await run(p, fork, ['sh', '-c', 'echo fork > fork.txt']);
    await run(p, main, ['sh', '-c', 'echo main > main.txt']);
    assert.equal((await run(p, main, ['sh', '-c', 'ls fork.txt 2>&1 || true'])).stdout.includes('No such file'), true, 'the fork writes only its own copy');
    assert.equal((await run(p, fork, ['sh', '-c', 'ls main.txt 2>&1 || true'])).stdout.includes('No such file'), true, 'the source writes only its own files');
    assert.equal((await p.inspect(main.id)).state, 'running', 'the source kept running');
    await run(p, main, ['rm', 'main.txt']);
    await p.destroy(fork, op());
    assert.deepEqual(names(await objectsOf(fork.id)), [], 'nothing of the fork is left');
  });

  test('the capabilities it claims are honoured in the workspace', async () => {
    const caps = p.capabilities;
    if (caps.image) {
      assert.ok(backend.image, 'a backend with the image capability says how to see the image');
      const r = await run(p, main, backend.image.cmd);
      assert.match(r.stdout, backend.image.expect);
    }
    if (caps.user) {
      assert.ok(backend.user, 'a backend with the user capability names a user to run as');
      assert.equal((await run(p, main, ['id', '-un'])).stdout.trim(), backend.user);
    }
    if (caps.resources) {
      const r = await run(p, main, ['sh', '-c', 'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes']);
      assert.equal(r.stdout.trim(), String(MEMORY), 'the memory limit is in force');
    }
    // Processes on the control plane's host see its filesystem; processes anywhere else do not.
    const marker = `/tmp/berth-conformance-${crypto.randomBytes(6).toString('hex')}`;
    const r = await run(p, main, ['sh', '-c', `echo here > ${marker}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.existsSync(marker), caps.runsOnHost, `runsOnHost=${caps.runsOnHost}, but ${marker} is ${fs.existsSync(marker) ? '' : 'not '}on this host`);
    fs.rmSync(marker, { force: true });
    const host = backend.hostPath?.(main.id);
    if (host) assert.equal(fs.readFileSync(path.join(host, 'work', 'notes.txt'), 'utf8'), 'kept\n', 'the storage is where the backend says');
  });

  test('exec: exit codes pass through, stdout and stderr stay apart, stdin EOF ends the reader', async () => {
    for (const code of [0, 3, 255]) assert.equal((await run(p, main, ['sh', '-c', `exit ${code}`])).code, code);
    const r = await run(p, main, ['sh', '-c', 'echo to-out; echo to-err >&2']);
    assert.deepEqual([r.stdout, r.stderr, r.code], ['to-out\n', 'to-err\n', 0]);
    const cat = await run(p, main, ['cat'], { stdin: 'line one\nline two' });
    assert.deepEqual([cat.code, cat.stdout], [0, 'line one\nline two']);
    const missing = await run(p, main, ['no-such-command-berth']);
    assert.notEqual(missing.code, 0, 'a missing command fails');
  });

  test('exec: a TTY resize is visible to the process', async () => {
    // Polls its own size (a bounded loop) so that the test needs no way to know when the resize arrived.
    const poll = 'stty size; i=0; while [ "$(stty size)" = "24 80" ] && [ $i -lt 400 ]; do i=$((i+1)); sleep 0.05; done; stty size';
    const proc = await p.exec(main, { cmd: ['sh', '-c', poll], tty: true, cols: 80, rows: 24 });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitForOutput(proc.stdout, () => out, /24 80/);
      proc.resize(100, 40);
      await waitForOutput(proc.stdout, () => out, /40 100/);
      assert.equal((await proc.exited).code, 0);
    } finally {
      proc.kill('SIGKILL');
    }
  });

  for (const tty of [false, true]) {
    test(`exec: kill('SIGINT') ends a long command by SIGINT${tty ? ' (TTY)' : ''}`, async () => {
      const proc = await p.exec(main, { cmd: ['sh', '-c', 'echo started; exec sleep 100'], tty });
      let out = '';
      proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
      try {
        await waitForOutput(proc.stdout, () => out, /started/);
      } finally {
        proc.kill('SIGINT');
      }
      const exit = await proc.exited;
      // The contract: code null and the signal's name, so the CLI can exit 128 + 2 like a local shell.
      assert.deepEqual(exit, { code: null, signal: 'SIGINT' });
    });
  }

  test('inspect changes nothing, whether the workspace runs, is stopped or is absent', async () => {
    const observe = async () => ({ list: await p.list(), objects: names(await backend.objects()) });
    let seen = await observe();
    assert.equal((await p.inspect(main.id)).state, 'running');
    assert.deepEqual(await observe(), seen);

    await p.stop(main, op());
    seen = await observe();
    for (let i = 0; i < 2; i++) assert.equal((await p.inspect(main.id)).state, 'stopped');
    assert.deepEqual(await observe(), seen);

    const absent = workspaceId();
    const status = await p.inspect(absent);
    assert.deepEqual([status.state, status.storage], ['absent', false]);
    assert.deepEqual(await observe(), seen, 'inspecting an unknown workspace creates nothing');
    assert.ok(!(await p.list()).includes(absent));
  });

  test('stop keeps the files; provisioning again brings them back without a new clone', async () => {
    const stopped = op();
    await p.stop(main, stopped);
    await p.stop(main, stopped);
    const status = await p.inspect(main.id);
    assert.deepEqual([status.state, status.storage], ['stopped', true]);
    assert.equal((await objectsOf(main.id)).filter((o) => o.kind === 'runtime').length, 0, 'no runtime after stop');
    await assert.rejects(run(p, main, ['true']), /not running/, 'exec in a stopped workspace says so');
    const o = op();
    assert.equal((await p.provision(main, o)).state, 'running');
    assert.ok(o.lines.some((l) => /already present/.test(l)), o.lines.join('\n'));
    assert.equal((await run(p, main, ['cat', 'notes.txt'])).stdout, 'kept\n');
  });

  test('destroy removes runtime and storage; destroying again is a no-op', async () => {
    await p.destroy(main, op());
    await p.destroy(main, op());
    const status = await p.inspect(main.id);
    assert.deepEqual([status.state, status.storage], ['absent', false]);
    assert.ok(!(await p.list()).includes(main.id), 'list() no longer has it');
    assert.deepEqual(names(await objectsOf(main.id)), [], 'nothing of it is left on the backend');
    const host = backend.hostPath?.(main.id);
    if (host) assert.ok(!fs.existsSync(host), `${host} is gone`);
  });

  test('a provision aborted mid-clone is completed by the next one, leaving nothing behind', async () => {
    const ws = context(backend.project(bigRepo.dir));
    const controller = new AbortController();
    const aborted = op(controller.signal);
    // Abort as soon as git itself reports: the clone is under way, not finished.
    aborted.progress = (line) => {
      aborted.lines.push(line);
      if (/^Cloning into/.test(line)) controller.abort(new Error('aborted by the test'));
    };
    await assert.rejects(p.provision(ws, aborted));
    assert.ok(controller.signal.aborted, `git started cloning:\n${aborted.lines.join('\n')}`);

    const o = op();
    assert.equal((await p.provision(ws, o)).state, 'running', o.lines.join('\n'));
    const r = await run(p, ws, ['sh', '-c', 'git rev-parse HEAD; git status --porcelain | wc -l; ls big | wc -l']);
    assert.deepEqual(r.stdout.trim().split('\n').map((l) => l.trim()), [bigRepo.head, '0', '48'], r.stderr);
    const mine = await objectsOf(ws.id);
    assert.deepEqual(names(mine.filter((x) => x.kind === 'temp' || x.kind === 'other')), [], 'no temporary leftovers');
    assert.equal(mine.filter((x) => x.kind === 'runtime').length, 1);
    assert.deepEqual(names((await backend.objects()).filter((x) => x.kind === 'temp' || x.kind === 'other')), [], 'no temporary leftovers elsewhere');
    await p.destroy(ws, op());
  });

  test('secrets stay out of names, labels, files and progress; a forgotten workspace is listed, quarantined by a stop that keeps its files, and removed as an orphan', async () => {
    const secretEnv = `env-secret-${crypto.randomBytes(8).toString('hex')}`;
    const secretFile = `file-secret-${crypto.randomBytes(8).toString('hex')}`;
    const logins = p.capabilities.registryLogins && backend.privateImage;
    const ws = context(backend.project(repo.dir), {
      ...(logins ? { image: logins.image, registryLogins: [logins.login] } : {}),
      env: [{ name: 'API_KEY', value: secretEnv, secret: true }],
      files: [{ path: '/workspace/.secrets/api', content: secretFile, mode: 0o600 }],
      // Setup runs in the checkout (work/); the file lies beside it.
      setup: ['test -n "$API_KEY" && test -s ../.secrets/api'],
    });
    await validateSpecFor(p, ws.spec);
    const o = op();
    assert.equal((await p.provision(ws, o)).state, 'running', o.lines.join('\n'));
    if (logins) assert.ok(o.lines.some((l) => l.includes(`as ${logins.login.username}`)), `pulled with the login:\n${o.lines.join('\n')}`);
    assert.equal((await run(p, ws, ['sh', '-c', 'printf %s "$API_KEY"'])).stdout, secretEnv, 'the workspace itself gets its secret');

    const token = ws.env.BERTH_WORKSPACE_TOKEN!;
    const secrets = { secretEnv, secretFile, token, ...(logins ? { password: logins.login.password } : {}) };
    const meta = await backend.metadata(ws.id);
    for (const [what, s] of Object.entries(secrets)) {
      assert.ok(!o.lines.some((l) => l.includes(s)), `${what} is not in the progress lines`);
      assert.ok(!meta.public.includes(s), `${what} is not in names or labels`);
      const files = await backend.filesContaining(ws.id, s);
      assert.deepEqual(files, what === 'secretFile' ? ['.secrets/api'] : [], `${what} is only where the spec puts it`);
    }
    assert.ok(!meta.all.includes(secretFile), 'file contents are not in the runtime metadata');
    if (logins) assert.ok(!meta.all.includes(logins.login.password), 'the registry password is nowhere on the runtime');

    // The store forgets it (as after restoring an older database): list() still finds it; orphan
    // collection first quarantines it with a stop given no spec and no secrets, which ends the
    // runtime and keeps every file; only its removal (grace period or admin gc) destroys it.
    assert.ok((await p.list()).includes(ws.id));
    await p.stop(minimalContext(ws.id), op());
    const quarantined = await p.inspect(ws.id);
    assert.notEqual(quarantined.state, 'running', 'a quarantined orphan does not run');
    assert.equal(quarantined.storage, true, 'a quarantined orphan keeps its storage');
    assert.ok((await p.list()).includes(ws.id), 'and is still listed');
    await p.destroy(minimalContext(ws.id), op());
    assert.ok(!(await p.list()).includes(ws.id));
    assert.deepEqual(names(await objectsOf(ws.id)), []);
    assert.equal((await p.inspect(ws.id)).state, 'absent');
  });
}
