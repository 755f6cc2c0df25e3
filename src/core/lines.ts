import { StringDecoder } from 'node:string_decoder';

/** Splits a byte stream into lines, treating both \n and \r as terminators (git progress uses \r). */
export class LineSplitter {
  private buf = '';
  // One decoder for the whole stream: it holds back a UTF-8 character split across chunks.
  private readonly decoder = new StringDecoder('utf8');
  constructor(private readonly onLine: (line: string, terminator: '\n' | '\r' | '') => void, private readonly maxLine = 4096) {}

  /** Feeds a chunk; complete lines are emitted at once. */
  push(chunk: string | Buffer): void {
    this.buf += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    let i: number;
    while ((i = this.buf.search(/[\r\n]/)) !== -1) {
      const line = this.buf.slice(0, i);
      const term = this.buf[i] as '\n' | '\r';
      this.buf = this.buf.slice(i + (term === '\r' && this.buf[i + 1] === '\n' ? 2 : 1));
      this.onLine(line, term);
    }
    if (this.buf.length > this.maxLine) {
      // Never cut between the two halves of a surrogate pair (an emoji, say).
      const high = this.buf.charCodeAt(this.maxLine - 1);
      const cut = high >= 0xd800 && high <= 0xdbff ? this.maxLine - 1 : this.maxLine;
      this.onLine(this.buf.slice(0, cut), '');
      this.buf = this.buf.slice(cut);
    }
  }

  /** Emits whatever is left without a terminator. */
  flush(): void {
    this.buf += this.decoder.end();
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
