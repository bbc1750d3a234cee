// A fleet of hosts for the dashboard's test and bench: history seeded through
// the receiver's batch endpoint (the real fold path), then a poster that keeps
// every live host reporting. Each host's newest values are fixed by its index,
// so a page can be checked against them whenever it refreshes.

export interface FleetOptions {
  /** Seconds between a host's samples. */
  intervalS: number;
  /** History posted before now, in minutes. */
  minutes: number;
}

export const fleetHost = (i: number) => `host-${String(i).padStart(3, '0')}`;

/**
 * The values host `i` reports now and from then on: two decimals, as an agent
 * sends. Hosts 7, 57, … run hot (cpu above the default rule's 90: a warning
 * stays open); hosts 33, 83, … have a full disk (a critical incident).
 */
export function newestValues(i: number): Record<string, number> {
  return {
    cpu: i % 50 === 7 ? 96.5 : ((i * 37) % 79) + 0.5,
    mem: 20 + ((i * 13) % 61) + 0.25,
    disk: i % 50 === 33 ? 97 : 30 + ((i * 7) % 53),
    'load.1': Math.round(((i % 9) / 3) * 100) / 100,
  };
}

/** Host i's values at time t of its history: waves that end at its newest values. */
function historyValues(i: number, t: number, now: number): Record<string, number> {
  const newest = newestValues(i);
  const weight = Math.min(1, (now - t) / 600_000);
  const wave = (amplitude: number, period: number) => amplitude * weight * Math.sin(t / period + i);
  const clamp = (v: number) => Math.round(Math.min(100, Math.max(0, v)) * 100) / 100;
  return {
    cpu: clamp(newest.cpu! + wave(25, 170_000)),
    mem: clamp(newest.mem! + wave(5, 900_000)),
    disk: newest.disk!,
    'load.1': Math.max(0, Math.round((newest['load.1']! + wave(0.5, 300_000)) * 100) / 100),
  };
}

export interface BatchSample {
  host: string;
  time: number;
  interval: number;
  metrics: Record<string, number>;
}

/** Posts samples (any hosts) through the batch endpoint, 1,000 at a time; fails on any refusal. */
export async function postBatch(receiverUrl: URL | string, samples: BatchSample[]): Promise<void> {
  const url = `${String(receiverUrl).replace(/\/+$/, '')}/batch`;
  for (let i = 0; i < samples.length; i += 1000) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ samples: samples.slice(i, i + 1000) }),
    });
    const text = await res.text();
    if (res.status !== 200 || JSON.parse(text).rejected.length > 0)
      throw new Error(`batch answered ${res.status}: ${text.slice(0, 300)}`);
  }
}

/** `minutes` of history for each host index in `indexes`, oldest first, ending at `until`. */
export function fleetHistory(
  indexes: number[],
  { intervalS, minutes }: FleetOptions,
  until: number,
  now = until,
): BatchSample[] {
  const samples: BatchSample[] = [];
  const step = intervalS * 1000;
  const last = until - (until % step);
  for (let t = last - minutes * 60_000; t <= last; t += step) {
    for (const i of indexes)
      samples.push({
        host: fleetHost(i),
        time: t,
        interval: intervalS,
        metrics: historyValues(i, t, now),
      });
  }
  return samples;
}

/** Keeps hosts reporting their newest values every `intervalS` until stopped. */
export class FleetPoster {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  /** The last error of a round, if any (a test checks it rather than lose it). */
  error: Error | null = null;

  constructor(
    private readonly receiverUrl: URL | string,
    private readonly indexes: number[],
    private readonly intervalS: number,
  ) {}

  /** Posts one round now, then one every interval. */
  async start(): Promise<void> {
    await this.round();
    this.timer = setInterval(() => {
      this.running ??= this.round().finally(() => {
        this.running = undefined;
      });
    }, this.intervalS * 1000);
  }

  private async round(): Promise<void> {
    const time = Date.now();
    await postBatch(
      this.receiverUrl,
      this.indexes.map((i) => ({
        host: fleetHost(i),
        time,
        interval: this.intervalS,
        metrics: newestValues(i),
      })),
    ).catch((err: Error) => {
      this.error = err;
    });
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}

/**
 * Every kind of metric the agent reports (README's table and the names of the
 * agent's /proc collectors), at time t: what a host page must place and label.
 */
export function everyMetric(t: number): Record<string, number> {
  const wave = (amplitude: number, period: number, phase = 0) =>
    amplitude * (1 + Math.sin(t / period + phase)) * 0.5;
  const two = (v: number) => Math.round(v * 100) / 100;
  const whole = (v: number) => Math.round(v);
  const gib = 1024 ** 3;
  const m: Record<string, number> = {
    cpu: two(20 + wave(50, 200_000)),
    'cpu.user': two(12 + wave(30, 200_000)),
    'cpu.system': two(5 + wave(10, 200_000, 1)),
    'cpu.iowait': two(wave(6, 90_000, 2)),
    'cpu.steal': two(wave(1, 50_000)),
    'cpu.irq': two(wave(0.6, 70_000)),
    mem: two(55 + wave(20, 600_000)),
    swap: two(3 + wave(2, 900_000)),
    'mem.total_bytes': 16 * gib,
    'mem.used_bytes': whole((8.8 + wave(3.2, 600_000)) * gib),
    'mem.available_bytes': whole((7.2 - wave(3.2, 600_000)) * gib),
    'mem.cached_bytes': whole(4.1 * gib + wave(0.4 * gib, 300_000)),
    'mem.buffers_bytes': whole(0.3 * gib),
    'swap.total_bytes': 4 * gib,
    'swap.used_bytes': whole(0.12 * gib + wave(0.08 * gib, 900_000)),
    'swap.in_bytes_per_s': whole(wave(40_000, 60_000)),
    'swap.out_bytes_per_s': whole(wave(90_000, 80_000, 1)),
    'mem.major_faults_per_s': two(wave(12, 40_000)),
    disk: two(71 + wave(3, 3_600_000)),
    'disk.used.root': two(71 + wave(3, 3_600_000)),
    'disk.used.var_lib': two(48 + wave(2, 3_600_000, 1)),
    'disk.used.boot': 23.5,
    'disk.read_bytes_per_s': whole(wave(38 * 1024 ** 2, 100_000)),
    'disk.write_bytes_per_s': whole(wave(12 * 1024 ** 2, 140_000, 2)),
    'disk.reads_per_s': two(wave(420, 100_000)),
    'disk.writes_per_s': two(wave(180, 140_000, 2)),
    'net.rx_bytes_per_s': whole(wave(6.5 * 1024 ** 2, 120_000)),
    'net.tx_bytes_per_s': whole(wave(2.1 * 1024 ** 2, 160_000, 1)),
    'net.rx_errors_per_s': two(wave(0.4, 30_000)),
    'net.tx_drops_per_s': two(wave(0.2, 45_000)),
    'load.1': two(0.4 + wave(3, 200_000)),
    'load.5': two(0.6 + wave(2, 400_000)),
    'load.15': two(0.8 + wave(1, 900_000)),
    'pressure.cpu.some': two(wave(8, 200_000)),
    'pressure.memory.some': two(wave(2, 300_000)),
    'pressure.memory.full': two(wave(0.8, 300_000)),
    'pressure.io.some': two(wave(4, 90_000, 2)),
    'pressure.io.full': two(wave(2.5, 90_000, 2)),
    gpu: two(wave(90, 250_000)),
    'gpu.mem': two(30 + wave(40, 500_000)),
    'gpu.0': two(wave(95, 250_000)),
    'gpu.1': two(wave(85, 250_000, 1)),
    'gpu.0.mem': two(30 + wave(45, 500_000)),
    'gpu.1.mem': two(30 + wave(35, 500_000, 1)),
    'procs.running': whole(2 + wave(6, 60_000)),
    'procs.blocked': whole(wave(2, 90_000)),
    'procs.forks_per_s': two(wave(25, 70_000)),
    context_switches_per_s: whole(8_000 + wave(12_000, 100_000)),
    interrupts_per_s: whole(4_000 + wave(6_000, 100_000, 1)),
    'fd.open': whole(3_200 + wave(400, 600_000)),
    uptime_s: whole(t / 1000 - 1_790_000_000),
  };
  for (let core = 0; core < 8; core++) m[`cpu.core.${core}`] = two(wave(95, 200_000, core));
  for (const dev of ['sda', 'nvme0n1']) {
    m[`disk.${dev}.read_bytes_per_s`] = whole(wave(20 * 1024 ** 2, 100_000, dev.length));
    m[`disk.${dev}.write_bytes_per_s`] = whole(wave(6 * 1024 ** 2, 140_000, dev.length));
    m[`disk.${dev}.reads_per_s`] = two(wave(210, 100_000, dev.length));
    m[`disk.${dev}.writes_per_s`] = two(wave(90, 140_000, dev.length));
    m[`disk.${dev}.busy`] = two(wave(60, 100_000, dev.length));
  }
  for (const iface of ['eth0', 'wlan0']) {
    m[`net.${iface}.rx_bytes_per_s`] = whole(wave(3.2 * 1024 ** 2, 120_000, iface.length));
    m[`net.${iface}.tx_bytes_per_s`] = whole(wave(1.1 * 1024 ** 2, 160_000, iface.length));
    m[`net.${iface}.rx_errors_per_s`] = two(wave(0.2, 30_000, iface.length));
    m[`net.${iface}.rx_drops_per_s`] = two(wave(0.1, 45_000, iface.length));
  }
  return m;
}
