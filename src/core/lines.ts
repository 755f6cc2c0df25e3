/** Splits a byte stream into lines, treating both \n and \r as terminators (git progress uses \r). */
export class LineSplitter {
  private buf = '';
  constructor(private readonly onLine: (line: string, terminator: '\n' | '\r' | '') => void, private readonly maxLine = 4096) {}

  /** Feeds a chunk; complete lines are emitted at once. */
  push(chunk: string | Buffer): void {
    this.buf += chunk.toString();
    let i: number;
    while ((i = this.buf.search(/[\r\n]/)) !== -1) {
      const line = this.buf.slice(0, i);
      const term = this.buf[i] as '\n' | '\r';
      this.buf = this.buf.slice(i + (term === '\r' && this.buf[i + 1] === '\n' ? 2 : 1));
      this.onLine(line, term);
    }
    if (this.buf.length > this.maxLine) {
      this.onLine(this.buf.slice(0, this.maxLine), '');
      this.buf = this.buf.slice(this.maxLine);
    }
  }

  /** Emits whatever is left without a terminator. */
  flush(): void {
    if (this.buf.length > 0) this.onLine(this.buf, '');
    this.buf = '';
  }
}

/**
 * Turns git's "\r"-rewritten progress ("Receiving objects:  45% (450/1000)") into a few lines:
 * every line ending in "\n", and progress lines only when the phase changes or the percentage
 * advanced by at least `step` points.
 */
export function progressFilter(emit: (line: string, kind: 'output' | 'progress') => void, step = 10): LineSplitter {
  let lastPhase = '';
  let lastPct = -1;
  return new LineSplitter((line, term) => {
    const trimmed = line.trimEnd();
    if (trimmed === '') return;
    const m = /^(.*?):\s+(\d{1,3})%/.exec(trimmed);
    if (!m) {
      emit(trimmed, 'output');
      return;
    }
    const phase = m[1]!;
    const pct = Number(m[2]);
    if (phase !== lastPhase || pct - lastPct >= step || pct === 100 || term === '\n') {
      if (phase === lastPhase && pct === lastPct) return;
      lastPhase = phase;
      lastPct = pct;
      emit(trimmed, 'progress');
    }
  });
}
