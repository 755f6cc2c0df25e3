/** Host-side writes into a fresh storage's .berth/: right owner and modes, and never redirected by a symlink. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import type { ContainerUser } from '../image-users.ts';
import { CHECKOUT_MARKER, PINNED_PATHS, ownFreshRoots, writeMarkerOnHost } from './host-marker.ts';

const root = typeof process.getuid === 'function' && process.getuid() === 0;
const u: ContainerUser = { spec: '', uid: root ? 4321 : process.getuid!(), gid: root ? 4321 : process.getgid!(), home: '/home/u' };
const bases: string[] = [];
after(() => bases.forEach((b) => fs.rmSync(b, { recursive: true, force: true })));

/** A storage root with `.berth/`, and a directory outside it standing for the rest of the host. */
function storage(): { dir: string; outside: string } {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-marker-'));
  bases.push(base);
  const dir = path.join(base, 'ws');
  fs.mkdirSync(path.join(dir, '.berth'), { recursive: true });
  const outside = path.join(base, 'outside');
  fs.mkdirSync(outside, { mode: 0o755 });
  return { dir, outside };
}

test('the roots and the marker get the workspace user and their modes', { skip: !PINNED_PATHS }, () => {
  const { dir } = storage();
  ownFreshRoots(dir, u);
  writeMarkerOnHost(dir, u);
  const berth = fs.statSync(path.join(dir, '.berth'));
  const marker = fs.statSync(path.join(dir, '.berth', CHECKOUT_MARKER));
  assert.deepEqual([berth.mode & 0o777, berth.uid, marker.mode & 0o777, marker.uid], [0o700, u.uid, 0o600, u.uid]);
  assert.equal(fs.statSync(dir).uid, u.uid);
  assert.deepEqual(fs.readdirSync(path.join(dir, '.berth')), [CHECKOUT_MARKER]);
});

test('a .berth swapped for a symlink is refused: nothing outside the storage is written or chmodded', { skip: !PINNED_PATHS }, () => {
  const { dir, outside } = storage();
  fs.rmSync(path.join(dir, '.berth'), { recursive: true });
  fs.symlinkSync(outside, path.join(dir, '.berth'));
  assert.throws(() => ownFreshRoots(dir, u), /ELOOP|ENOTDIR/);
  assert.throws(() => writeMarkerOnHost(dir, u), /ELOOP|ENOTDIR/);
  assert.equal(fs.statSync(outside).mode & 0o777, 0o755);
  assert.deepEqual(fs.readdirSync(outside), []);
});

test('symlinks planted at the marker names are replaced, never followed', { skip: !PINNED_PATHS }, () => {
  const { dir, outside } = storage();
  const target = path.join(outside, 'victim');
  fs.writeFileSync(target, 'keep');
  fs.symlinkSync(target, path.join(dir, '.berth', `${CHECKOUT_MARKER}.tmp`));
  fs.symlinkSync(target, path.join(dir, '.berth', CHECKOUT_MARKER));
  writeMarkerOnHost(dir, u);
  assert.equal(fs.readFileSync(target, 'utf8'), 'keep');
  assert.ok(fs.lstatSync(path.join(dir, '.berth', CHECKOUT_MARKER)).isFile());
  assert.deepEqual(fs.readdirSync(path.join(dir, '.berth')), [CHECKOUT_MARKER]);
});
