// The producer's disk spool: every sample is written here first (one JSON line,
// synced to disk) and leaves only once a receiver has accepted it, so neither a
// receiver outage nor a restart of the agent loses anything. Bounded: past
// SPOOL_MAX_BYTES the oldest segment is dropped, logged and counted.
//
// Layout: numbered segment files of JSON lines, oldest first, and cursor.json
// (the first line not yet delivered, plus the drop counter). A crash between a
// delivery and the cursor write only re-sends lines the receiver deduplicates.
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Log } from '../deploy/runtime/log.ts';
import { decodeSample, encodeSample, InputError, type Sample } from '../proto/sample.ts';

export interface SpoolPosition {
  segment: number;
  /** Byte offset in the segment of the first line not yet delivered. */
  offset: number;
}

interface Segment {
  number: number;
  bytes: number;
  /** Complete lines at or after the cursor (all lines, for segments after it). */
  pending: number;
}

export interface SpoolBatch {
  samples: Sample[];
  /** The position just after the batch. */
  end: SpoolPosition;
  /** Lines the batch took from each segment (segment number, lines). */
  lines: [number, number][];
}

interface CursorFile extends SpoolPosition {
  dropped: number;
}

const SEGMENT_NAME = /^(\d{16})\.ndjson$/;
const segmentName = (n: number) => `${String(n).padStart(16, '0')}.ndjson`;

async function readRange(path: string, from: number, to: number): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(Math.max(0, to - from));
    const { bytesRead } = await file.read(buffer, 0, buffer.length, from);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

function countLines(buffer: Buffer, from = 0): number {
  let lines = 0;
  for (let i = buffer.indexOf(10, from); i !== -1; i = buffer.indexOf(10, i + 1)) lines++;
  return lines;
}

export class Spool {
  private segments: Segment[] = [];
  private cursor: SpoolPosition = { segment: 1, offset: 0 };
  private droppedTotal = 0;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly dir: string,
    private readonly maxBytes: number,
    private readonly segmentBytes: number,
    private readonly log: Log,
  ) {}

  /** Opens (or creates) the spool in `dir`, picking up whatever a previous run left. */
  static async open(dir: string, maxBytes: number, log: Log): Promise<Spool> {
    // Small segments keep reads short and make an overflow drop a small slice, not an eighth.
    const segmentBytes = Math.min(4 * 1024 * 1024, Math.max(4096, Math.floor(maxBytes / 16)));
    const spool = new Spool(dir, maxBytes, segmentBytes, log);
    await mkdir(dir, { recursive: true });
    await spool.load();
    return spool;
  }

  /** Samples waiting for delivery. */
  get depth(): number {
    return this.segments.reduce((sum, s) => sum + s.pending, 0);
  }

  /** Samples dropped because the spool was full, over the spool's whole life. */
  get dropped(): number {
    return this.droppedTotal;
  }

  get bytes(): number {
    return this.segments.reduce((sum, s) => sum + s.bytes, 0);
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => {});
    return next;
  }

  private async load(): Promise<void> {
    const names = (await readdir(this.dir)).filter((n) => SEGMENT_NAME.test(n)).sort();
    try {
      const saved = JSON.parse(await readFile(join(this.dir, 'cursor.json'), 'utf8')) as CursorFile;
      this.cursor = { segment: saved.segment, offset: saved.offset };
      this.droppedTotal = saved.dropped ?? 0;
    } catch {
      // No cursor yet (new spool) or an unreadable one: start at the oldest segment.
    }
    for (const name of names) {
      const number = Number(SEGMENT_NAME.exec(name)![1]);
      if (number < this.cursor.segment) {
        await rm(join(this.dir, name), { force: true });
        continue;
      }
      const content = await readFile(join(this.dir, name));
      const from =
        number === this.cursor.segment ? Math.min(this.cursor.offset, content.length) : 0;
      this.segments.push({ number, bytes: content.length, pending: countLines(content, from) });
    }
    const first = this.segments[0];
    if (!first || first.number > this.cursor.segment) {
      this.cursor = { segment: first?.number ?? this.cursor.segment, offset: 0 };
    }
    if (this.depth > 0)
      this.log.info('spool holds undelivered samples from before', {
        samples: this.depth,
        dir: this.dir,
      });
  }

  /** Appends samples to the newest segment and syncs them to disk. */
  append(samples: readonly Sample[]): Promise<void> {
    if (samples.length === 0) return Promise.resolve();
    return this.serial(async () => {
      let head = this.segments.at(-1);
      if (!head || head.bytes >= this.segmentBytes) {
        head = { number: head ? head.number + 1 : this.cursor.segment, bytes: 0, pending: 0 };
        this.segments.push(head);
      }
      const data = Buffer.from(samples.map((s) => `${encodeSample(s)}\n`).join(''));
      const file = await open(join(this.dir, segmentName(head.number)), 'a');
      try {
        await file.write(data);
        await file.datasync();
      } finally {
        await file.close();
      }
      head.bytes += data.length;
      head.pending += samples.length;
      await this.enforceLimit();
    });
  }

  /** Drops whole oldest segments until the spool fits its limit again. */
  private async enforceLimit(): Promise<void> {
    let dropped = 0;
    while (this.bytes > this.maxBytes && this.segments.length > 1) {
      const oldest = this.segments.shift()!;
      dropped += oldest.pending;
      await rm(join(this.dir, segmentName(oldest.number)), { force: true });
      this.cursor = { segment: this.segments[0]!.number, offset: 0 };
    }
    if (dropped > 0) {
      this.droppedTotal += dropped;
      await this.saveCursor();
      this.log.warn('spool full: dropped the oldest samples', {
        dropped,
        dropped_total: this.droppedTotal,
        limit_bytes: this.maxBytes,
      });
    }
  }

  /** Up to `max` of the oldest undelivered samples, and where they end. */
  peek(max: number): Promise<SpoolBatch> {
    return this.serial(async () => {
      const batch: SpoolBatch = { samples: [], end: { ...this.cursor }, lines: [] };
      for (const segment of this.segments) {
        if (batch.samples.length >= max) break;
        if (segment.number < batch.end.segment || segment.pending === 0) continue;
        const from = segment.number === batch.end.segment ? batch.end.offset : 0;
        const content = await readRange(
          join(this.dir, segmentName(segment.number)),
          from,
          segment.bytes,
        );
        let at = 0;
        let lines = 0;
        while (batch.samples.length < max) {
          const newline = content.indexOf(10, at);
          if (newline === -1) break;
          const line = content.subarray(at, newline).toString('utf8');
          at = newline + 1;
          lines++;
          try {
            batch.samples.push(decodeSample(line));
          } catch (err) {
            if (!(err instanceof InputError)) throw err;
            this.log.warn('spool line unreadable (torn write?); skipped', {
              segment: segment.number,
              error: err.message,
            });
          }
        }
        batch.end = { segment: segment.number, offset: from + at };
        batch.lines.push([segment.number, lines]);
      }
      return batch;
    });
  }

  /** Marks a peeked batch delivered: moves the cursor past it and deletes finished segments. */
  commit(batch: SpoolBatch): Promise<void> {
    return this.serial(async () => {
      for (const [number, lines] of batch.lines) {
        const segment = this.segments.find((s) => s.number === number);
        if (segment) segment.pending = Math.max(0, segment.pending - lines);
      }
      let end = { ...batch.end };
      // A segment is finished when the cursor passed it, or reached its end and writing moved on.
      while (this.segments.length > 1) {
        const first = this.segments[0]!;
        const passed = first.number < end.segment;
        const exhausted = first.number === end.segment && end.offset >= first.bytes;
        if (!passed && !exhausted) break;
        this.segments.shift();
        await rm(join(this.dir, segmentName(first.number)), { force: true });
        if (exhausted) end = { segment: this.segments[0]!.number, offset: 0 };
      }
      // Segments dropped for space while the batch was out may lie behind the new cursor.
      if (this.segments[0] && end.segment < this.segments[0].number)
        end = { segment: this.segments[0].number, offset: 0 };
      this.cursor = end;
      await this.saveCursor();
    });
  }

  private async saveCursor(): Promise<void> {
    const path = join(this.dir, 'cursor.json');
    const body: CursorFile = { ...this.cursor, dropped: this.droppedTotal };
    await writeFile(`${path}.tmp`, JSON.stringify(body));
    await rename(`${path}.tmp`, path);
  }

  /** Bytes on disk, for tests and diagnostics. */
  async diskBytes(): Promise<number> {
    let total = 0;
    for (const s of this.segments)
      total += (await stat(join(this.dir, segmentName(s.number))).catch(() => ({ size: 0 }))).size;
    return total;
  }
}
