// Latencies recorded over a long run without growing: preallocated room for the
// expected events, each tagged with the slot of the run it belongs to (a minute
// in a full run), summarized per slot and over the judged span at the end.
import { type LatencySummary, summarize } from '../bench/percentile.ts';

export interface SlotSummary extends LatencySummary {
  slot: number;
}

export interface LagFigures {
  /** Over every slot from the end of the warm-up on. */
  judged: LatencySummary;
  perSlot: SlotSummary[];
  /** Events beyond the recorder's capacity, not recorded (counted so that nothing is silently lost). */
  overflow: number;
}

export class LagRecorder {
  private readonly slots: Uint16Array;
  private readonly lags: Float32Array;
  private count = 0;
  private overflow = 0;

  constructor(capacity: number) {
    this.slots = new Uint16Array(capacity);
    this.lags = new Float32Array(capacity);
  }

  add(slot: number, lagMs: number): void {
    if (this.count >= this.lags.length || slot < 0 || slot > 65_535) {
      this.overflow++;
      return;
    }
    this.slots[this.count] = slot;
    this.lags[this.count++] = lagMs;
  }

  /** Per-slot and judged summaries; slots before `firstJudgedSlot` are summarized but not judged. */
  figures(firstJudgedSlot: number): LagFigures {
    const bySlot = new Map<number, number[]>();
    const judged: number[] = [];
    for (let i = 0; i < this.count; i++) {
      const slot = this.slots[i]!;
      let list = bySlot.get(slot);
      if (!list) {
        list = [];
        bySlot.set(slot, list);
      }
      list.push(this.lags[i]!);
      if (slot >= firstJudgedSlot) judged.push(this.lags[i]!);
    }
    return {
      judged: summarize(Float64Array.from(judged)),
      perSlot: [...bySlot.entries()]
        .sort(([a], [b]) => a - b)
        .map(([slot, list]) => ({ slot, ...summarize(Float64Array.from(list)) })),
      overflow: this.overflow,
    };
  }
}

/** Counts per slot of the run, by the sample's own time. */
export class SlotCounts {
  readonly counts: number[] = [];

  add(slot: number, n = 1): void {
    if (slot < 0 || slot > 65_535) return;
    while (this.counts.length <= slot) this.counts.push(0);
    this.counts[slot]! += n;
  }

  sumFrom(slot: number): number {
    return this.counts.slice(slot).reduce((a, b) => a + b, 0);
  }
}

/** How the run is cut for per-slot figures: minutes in a full run, 10 s slots in a short check. */
export interface Slots {
  startAt: number;
  slotMs: number;
  /** The first slot that counts: warm-up ends at its start. */
  firstJudged: number;
}

export function slotOf(time: number, slots: Slots): number {
  return Math.floor((time - slots.startAt) / slots.slotMs);
}
