/**
 * A pass-through stream that counts the bytes and rows of a COPY stream as they flow from the
 * export to the import, without buffering them. Text format: one unescaped newline per row.
 * Binary format: a small parser walks tuple and field lengths, which also tells whether the
 * stream ended with the format's trailer, i.e. whether the export finished its COPY.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { CopyFormat } from '../shared/copy-spec.js';

const BINARY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const NEWLINE = 0x0a;

type BinaryState =
  'signature' | 'flags' | 'extensionLength' | 'extension' | 'fieldCount' | 'fieldLength' | 'fieldData' | 'trailer';

/** Walks the binary COPY layout chunk by chunk; see PostgreSQL's "COPY binary format". */
class BinaryCopyParser {
  rows = 0;
  private state: BinaryState = 'signature';
  private pending: number[] = [];
  private skip = 0;
  private fieldsLeft = 0;
  malformed: string | undefined;

  get complete(): boolean {
    return this.state === 'trailer';
  }

  feed(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length && !this.malformed) {
      const state = this.state;
      if (state === 'extension' || state === 'fieldData') {
        const step = Math.min(this.skip, chunk.length - i);
        i += step;
        this.skip -= step;
        if (this.skip === 0) this.state = state === 'extension' ? 'fieldCount' : this.nextAfterField();
        continue;
      }
      if (state === 'trailer') {
        this.malformed = 'data after the binary COPY trailer';
        return;
      }
      // Fast path: the header lies whole inside this chunk, read it in place (the hot loop of
      // a 2M-row copy: one field count per row and one length per field).
      if (this.pending.length === 0) {
        if (state === 'fieldCount' && i + 2 <= chunk.length) {
          this.onFieldCount(chunk.readInt16BE(i));
          i += 2;
          continue;
        }
        if (state === 'fieldLength' && i + 4 <= chunk.length) {
          this.onFieldLength(chunk.readInt32BE(i));
          i += 4;
          continue;
        }
      }
      // Slow path: a header split across chunks is collected byte by byte.
      const need = state === 'signature' ? 11 : state === 'fieldCount' ? 2 : 4;
      while (this.pending.length < need && i < chunk.length) this.pending.push(chunk[i++]!);
      if (this.pending.length === need) this.consume(Buffer.from(this.pending));
    }
  }

  private nextAfterField(): BinaryState {
    this.fieldsLeft--;
    return this.fieldsLeft > 0 ? 'fieldLength' : 'fieldCount';
  }

  private onFieldCount(count: number): void {
    if (count === -1) {
      this.state = 'trailer';
      return;
    }
    this.rows++;
    this.fieldsLeft = count;
    this.state = count > 0 ? 'fieldLength' : 'fieldCount';
  }

  private onFieldLength(length: number): void {
    if (length > 0) {
      this.skip = length;
      this.state = 'fieldData';
    } else {
      this.state = this.nextAfterField();
    }
  }

  private consume(value: Buffer): void {
    this.pending = [];
    switch (this.state) {
      case 'signature':
        if (!value.equals(BINARY_SIGNATURE)) this.malformed = 'missing binary COPY signature';
        this.state = 'flags';
        return;
      case 'flags':
        this.state = 'extensionLength';
        return;
      case 'extensionLength':
        this.skip = value.readUInt32BE(0);
        this.state = this.skip > 0 ? 'extension' : 'fieldCount';
        return;
      case 'fieldCount':
        this.onFieldCount(value.readInt16BE(0));
        return;
      case 'fieldLength':
        this.onFieldLength(value.readInt32BE(0));
        return;
      default:
        return;
    }
  }
}

/** Counts bytes and rows of a COPY stream while passing every chunk through unchanged. */
export class CopyCounter extends Transform {
  bytes = 0;
  private textRows = 0;
  private readonly binary: BinaryCopyParser | undefined;
  /** Date.now() of the last chunk; the stall watchdog reads it. */
  lastChunkAt = Date.now();

  constructor(readonly format: CopyFormat) {
    super();
    this.binary = format === 'binary' ? new BinaryCopyParser() : undefined;
  }

  get rows(): number {
    return this.binary ? this.binary.rows : this.textRows;
  }

  /**
   * Whether the stream is known to be whole: binary streams must end with the trailer; text
   * streams must end with a row terminator (or be empty).
   */
  get looksComplete(): boolean {
    if (this.binary) return this.binary.complete && !this.binary.malformed;
    return this.bytes === 0 || this.lastByte === NEWLINE;
  }

  private lastByte = -1;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    this.lastChunkAt = Date.now();
    if (this.binary) this.binary.feed(chunk);
    else {
      let at = chunk.indexOf(NEWLINE);
      while (at !== -1) {
        this.textRows++;
        at = chunk.indexOf(NEWLINE, at + 1);
      }
    }
    if (chunk.length > 0) this.lastByte = chunk[chunk.length - 1]!;
    callback(null, chunk);
  }
}
