/**
 * A minimal tar (ustar + PAX long names) writer and single-file reader. The Docker archive API
 * speaks tar: Berth uploads config files, directory ownership and, on remote engines, the whole
 * checkout with it, and reads `/etc/passwd` back out of images. Ownership and modes are taken from
 * each entry, so files land owned by the workspace user without a chown pass.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';

/** One member of an archive. Paths are relative (no leading slash), directories may end with '/'. */
export type TarEntry =
  | { type: 'dir'; path: string; mode: number; uid: number; gid: number; mtime?: number }
  | { type: 'file'; path: string; mode: number; uid: number; gid: number; mtime?: number; data: Buffer }
  | { type: 'stream'; path: string; mode: number; uid: number; gid: number; mtime?: number; size: number; open: () => Readable }
  | { type: 'symlink'; path: string; target: string; uid: number; gid: number; mtime?: number };

const BLOCK = 512;

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

function paxRecord(key: string, value: string): string {
  // The record's length counts its own digits, so grow until it is self-consistent.
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body);
  let total = len + String(len).length;
  while (total !== len + String(total).length) total = len + String(total).length;
  len = total;
  return `${len}${body}`;
}

function header(name: string, opts: { mode: number; uid: number; gid: number; size: number; mtime: number; type: string; linkname?: string }): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(opts.mode & 0o7777, 8), 100, 8, 'ascii');
  h.write(octal(opts.uid, 8), 108, 8, 'ascii');
  h.write(octal(opts.gid, 8), 116, 8, 'ascii');
  h.write(octal(opts.size, 12), 124, 12, 'ascii');
  h.write(octal(Math.floor(opts.mtime), 12), 136, 12, 'ascii');
  h.write('        ', 148, 8, 'ascii');
  h.write(opts.type, 156, 1, 'ascii');
  if (opts.linkname) h.write(opts.linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest, 0);
}

/** The header block(s) of one entry; a PAX header precedes it when a name does not fit ustar. */
function headers(e: TarEntry, size: number): Buffer[] {
  const type = e.type === 'dir' ? '5' : e.type === 'symlink' ? '2' : '0';
  let name = e.path.replace(/^\/+/, '');
  if (e.type === 'dir' && !name.endsWith('/')) name += '/';
  const linkname = e.type === 'symlink' ? e.target : undefined;
  const mtime = e.mtime ?? Date.now() / 1000;
  const out: Buffer[] = [];
  const longName = Buffer.byteLength(name) > 99;
  const longLink = linkname !== undefined && Buffer.byteLength(linkname) > 99;
  if (longName || longLink) {
    const pax = Buffer.from((longName ? paxRecord('path', name) : '') + (longLink ? paxRecord('linkpath', linkname) : ''), 'utf8');
    out.push(header('PaxHeader', { mode: 0o644, uid: 0, gid: 0, size: pax.length, mtime, type: 'x' }), pax, padding(pax.length));
  }
  const mode = e.type === 'symlink' ? 0o777 : e.mode;
  out.push(header(longName ? name.slice(0, 99) : name, { mode, uid: e.uid, gid: e.gid, size, mtime, type, ...(linkname ? { linkname: longLink ? linkname.slice(0, 99) : linkname } : {}) }));
  return out;
}

/** Streams entries as a tar archive. */
export function tarStream(entries: Iterable<TarEntry> | AsyncIterable<TarEntry>): Readable {
  async function* generate(): AsyncGenerator<Buffer> {
    for await (const e of entries) {
      if (e.type === 'file') {
        yield* headers(e, e.data.length);
        yield e.data;
        yield padding(e.data.length);
      } else if (e.type === 'stream') {
        yield* headers(e, e.size);
        let written = 0;
        for await (const chunk of e.open()) {
          const buf = chunk as Buffer;
          // A file that grew while being read is cut to the size announced in its header.
          const take = buf.subarray(0, Math.max(0, e.size - written));
          written += take.length;
          if (take.length) yield take;
        }
        if (written < e.size) yield Buffer.alloc(e.size - written, 0);
        yield padding(e.size);
      } else {
        yield* headers(e, 0);
      }
    }
    yield Buffer.alloc(BLOCK * 2, 0);
  }
  return Readable.from(generate(), { objectMode: false });
}

/**
 * Walks a directory and yields its contents as entries under `prefix`, owned by uid:gid, modes and
 * symlinks preserved. Only regular files, directories and symlinks are included.
 */
export async function* directoryEntries(dir: string, prefix: string, uid: number, gid: number): AsyncGenerator<TarEntry> {
  const root = await fs.promises.lstat(dir);
  yield { type: 'dir', path: prefix, mode: root.mode & 0o7777, uid, gid, mtime: root.mtimeMs / 1000 };
  const stack: string[] = [''];
  while (stack.length > 0) {
    const rel = stack.pop()!;
    const names = (await fs.promises.readdir(path.join(dir, rel))).sort();
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const full = path.join(dir, r);
      const st = await fs.promises.lstat(full);
      const p = `${prefix}/${r}`;
      const mtime = st.mtimeMs / 1000;
      if (st.isDirectory()) {
        yield { type: 'dir', path: p, mode: st.mode & 0o7777, uid, gid, mtime };
        stack.push(r);
      } else if (st.isSymbolicLink()) {
        yield { type: 'symlink', path: p, target: await fs.promises.readlink(full), uid, gid, mtime };
      } else if (st.isFile()) {
        yield { type: 'stream', path: p, mode: st.mode & 0o7777, uid, gid, mtime, size: st.size, open: () => fs.createReadStream(full) };
      }
    }
  }
}

/** Reads the content of the first regular file in a tar archive (what GET /containers/{id}/archive returns for a file). */
export async function firstFileOfTar(stream: NodeJS.ReadableStream): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(Buffer.from(c));
  const buf = Buffer.concat(chunks);
  let off = 0;
  while (off + BLOCK <= buf.length) {
    const h = buf.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) return null;
    const size = parseInt(h.subarray(124, 136).toString('ascii').replace(/\0.*$/s, '').trim() || '0', 8);
    const type = String.fromCharCode(h[156]!);
    const start = off + BLOCK;
    if (type === '0' || type === '\0') return buf.subarray(start, start + size);
    off = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  return null;
}
