// Sample bodies shaped like the producer's: about 20 metrics at the precision the
// agent sends (two decimals for percentages and load, whole numbers for byte
// rates and counts), so parsing, validation and folding cost what they cost in
// production.

/** Metric names as producer/sources/system.ts reports them for a 4-core machine with two disks. */
const METRICS = [
  'cpu',
  'cpu.core.0',
  'cpu.core.1',
  'cpu.core.2',
  'cpu.core.3',
  'mem',
  'swap',
  'disk',
  'disk.used.root',
  'disk.used.home',
  'disk.read_bytes_per_s',
  'disk.write_bytes_per_s',
  'net.eth0.rx_bytes_per_s',
  'net.eth0.tx_bytes_per_s',
  'net.rx_bytes_per_s',
  'net.tx_bytes_per_s',
  'load.1',
  'load.5',
  'load.15',
  'procs',
] as const;

/** Three topics every body holds, for the `?topics=` query and gRPC subscribers. */
export const QUERY_TOPICS = ['cpu', 'mem', 'load.1'] as const;

/** A small deterministic generator, so every run posts the same bodies. */
function randomFrom(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

const twoDecimals = (v: number) => Math.round(v * 100) / 100;

function metricValue(name: string, random: () => number): number {
  if (name.endsWith('_per_s')) return Math.round(random() * 50_000_000);
  if (name.startsWith('load.')) return twoDecimals(random() * 4);
  if (name === 'procs') return Math.floor(100 + random() * 300);
  return twoDecimals(random() * 100);
}

/** `count` JSON bodies for one poster, different values in each. */
export function sampleBodies(count: number, seed: number): string[] {
  const random = randomFrom(seed);
  return Array.from({ length: count }, () =>
    JSON.stringify(Object.fromEntries(METRICS.map((name) => [name, metricValue(name, random)]))),
  );
}

export const METRICS_PER_BODY = METRICS.length;
