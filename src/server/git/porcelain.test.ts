/** Unit tests of the git output parsers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseStatus, splitDiff, unquotePath } from './porcelain.ts';

test('parseStatus reads branch, ahead/behind and every kind of entry', () => {
  const out = [
    '# branch.oid 1111111111111111111111111111111111111111',
    '# branch.head main',
    '# branch.upstream origin/main',
    '# branch.ab +2 -3',
    '1 .M N... 100644 100644 100644 aaaa aaaa src/a file.txt',
    '2 R. N... 100644 100644 100644 bbbb bbbb R100 new name.txt',
    'old name.txt',
    'u UU N... 100644 100644 100644 100644 cccc dddd eeee conflict.txt',
    '? untracked dir/x.txt',
    '',
  ].join('\0');
  const s = parseStatus(out);
  assert.deepEqual([s.branch, s.detached, s.commit, s.upstream, s.ahead, s.behind, s.clean], ['main', false, '1111111111111111111111111111111111111111', 'origin/main', 2, 3, false]);
  assert.deepEqual(s.files, [
    { path: 'src/a file.txt', index: 'unmodified', worktree: 'modified', conflicted: false },
    { path: 'new name.txt', origPath: 'old name.txt', index: 'renamed', worktree: 'unmodified', conflicted: false },
    { path: 'conflict.txt', index: 'unmerged', worktree: 'unmerged', conflicted: true },
    { path: 'untracked dir/x.txt', index: 'untracked', worktree: 'untracked', conflicted: false },
  ]);
});

test('parseStatus handles a detached HEAD and a repository without commits', () => {
  assert.deepEqual(parseStatus('# branch.oid (initial)\0# branch.head (detached)\0'), {
    branch: null, detached: true, commit: null, upstream: null, ahead: 0, behind: 0, clean: true, files: [],
  });
});

test('splitDiff splits per file and counts lines, including renames, binaries and deletions', () => {
  const out = `diff --git a/src/a.txt b/src/a.txt
index 1..2 100644
--- a/src/a.txt
+++ b/src/a.txt
@@ -1,3 +1,4 @@
 one
-two
+2
 three
+--- not a header
diff --git a/old name.txt b/new name.txt
similarity index 100%
rename from old name.txt
rename to new name.txt
diff --git a/img.png b/img.png
new file mode 100644
index 0..3
Binary files /dev/null and b/img.png differ
diff --git a/gone.txt b/gone.txt
deleted file mode 100644
index 4..0
--- a/gone.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
diff --git "a/tab\\there" "b/tab\\there"
old mode 100644
new mode 100755
`;
  const files = splitDiff(out);
  assert.deepEqual(
    files.map((f) => [f.path, f.oldPath, f.change, f.binary, f.additions, f.deletions]),
    [
      ['src/a.txt', undefined, 'modified', false, 2, 1],
      ['new name.txt', 'old name.txt', 'renamed', false, 0, 0],
      ['img.png', undefined, 'added', true, 0, 0],
      ['gone.txt', undefined, 'deleted', false, 0, 1],
      ['tab\there', undefined, 'mode-changed', false, 0, 0],
    ],
  );
  assert.ok(files[0]!.patch.startsWith('diff --git a/src/a.txt b/src/a.txt\n'));
  assert.ok(files[0]!.patch.endsWith('+--- not a header\n'));
  assert.deepEqual(splitDiff(''), []);
});

test('unquotePath undoes C-style quoting, octal UTF-8 bytes included', () => {
  assert.equal(unquotePath('plain name'), 'plain name');
  assert.equal(unquotePath('"a\\"b\\\\c"'), 'a"b\\c');
  assert.equal(unquotePath('"caf\\303\\251"'), 'café');
});
