/**
 * A bounded, redacted tail of a child's stderr. stderr is always drained (an undrained pipe
 * blocks psql at 64 KiB) but only the last few KiB are kept: enough to explain a failure,
 * never enough to fill memory when a process floods it.
 */
import type { Readable } from 'node:stream';
import { dropRowValues } from './row-values.js';

const DEFAULT_LIMIT_BYTES = 8 * 1024;

/** Replaces every secret and any password-looking text with `***`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret) out = out.split(secret).join('***');
  return out
    .replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1***@')
    .replace(/(password\s*=\s*)('[^']*'|\S+)/gi, '$1***');
}

/** Collects the last `limitBytes` of a stream while draining all of it. */
export class StderrTail {
  private chunks: Buffer[] = [];
  private size = 0;
  private totalBytes = 0;

  constructor(
    private readonly secrets: readonly string[] = [],
    private readonly limitBytes = DEFAULT_LIMIT_BYTES,
  ) {}

  /** Starts draining `stream`; returns immediately. */
  drain(stream: Readable | null | undefined): this {
    stream?.on('data', (chunk: Buffer) => this.push(chunk));
    return this;
  }

  push(chunk: Buffer): void {
    this.totalBytes += chunk.length;
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size - (this.chunks[0]?.length ?? 0) >= this.limitBytes) {
      this.size -= this.chunks.shift()!.length;
    }
  }

  /** The kept tail as redacted text without row values; whole lines only when the head was cut. */
  text(): string {
    let buffer = Buffer.concat(this.chunks);
    if (buffer.length > this.limitBytes) buffer = buffer.subarray(buffer.length - this.limitBytes);
    let text = buffer.toString('utf8');
    if (this.totalBytes > buffer.length) text = text.slice(text.indexOf('\n') + 1);
    return dropRowValues(redact(text.trimEnd(), this.secrets));
  }

  /** The last non-empty line, for one-line failure messages. */
  lastLine(): string {
    const lines = this.text()
      .split('\n')
      .filter((line) => line.trim() !== '');
    return lines.at(-1)?.trim() ?? '';
  }

  /** The first SQLSTATE psql printed (needs VERBOSITY=verbose: `ERROR:  42P01: ...`). */
  sqlState(): string | undefined {
    return /(?:ERROR|FATAL|PANIC):\s+([0-9A-Z]{5}):/.exec(this.text())?.[1];
  }

  get bytesSeen(): number {
    return this.totalBytes;
  }
}
