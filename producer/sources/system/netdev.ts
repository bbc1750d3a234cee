// Network traffic from /proc/net/dev, per interface but loopback
// (`net.<iface>.rx_bytes_per_s`, `…tx_bytes_per_s`, `…rx_errors_per_s`,
// `…tx_errors_per_s`, `…rx_drops_per_s`, `…tx_drops_per_s`) and summed over them.
import type { Metrics } from '../../../proto/sample.ts';
import { nameToken } from '../source.ts';
import { eventRate, Rates, type Reading, type SystemCollector, whole } from './collector.ts';

export interface InterfaceCounters {
  iface: string;
  rxBytes: number;
  rxErrors: number;
  rxDrops: number;
  txBytes: number;
  txErrors: number;
  txDrops: number;
}

export function parseNetDev(text: string): InterfaceCounters[] {
  const interfaces: InterfaceCounters[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    if (f.length < 16) continue;
    interfaces.push({
      iface: line.slice(0, colon).trim(),
      rxBytes: f[0]!,
      rxErrors: f[2]!,
      rxDrops: f[3]!,
      txBytes: f[8]!,
      txErrors: f[10]!,
      txDrops: f[11]!,
    });
  }
  return interfaces;
}

const FIELDS = [
  ['rxBytes', 'rx_bytes_per_s', whole],
  ['txBytes', 'tx_bytes_per_s', whole],
  ['rxErrors', 'rx_errors_per_s', eventRate],
  ['txErrors', 'tx_errors_per_s', eventRate],
  ['rxDrops', 'rx_drops_per_s', eventRate],
  ['txDrops', 'tx_drops_per_s', eventRate],
] as const;

export class NetdevCollector implements SystemCollector {
  private readonly rates = new Rates();

  update(reading: Reading, into: Metrics): void {
    const interfaces = parseNetDev(reading.text('/proc/net/dev'));
    this.rates.begin(reading.seconds);
    const totals = FIELDS.map(() => 0);
    let counted = 0;
    for (const counters of interfaces) {
      if (counters.iface === 'lo') continue;
      const rates = FIELDS.map(([field]) =>
        this.rates.perSecond(`${counters.iface} ${field}`, counters[field]),
      );
      if (rates.some((r) => r === null)) continue;
      const prefix = `net.${nameToken(counters.iface)}`;
      FIELDS.forEach(([, name, round], i) => {
        into[`${prefix}.${name}`] = round(rates[i]!);
        totals[i]! += rates[i]!;
      });
      counted++;
    }
    if (counted > 0) {
      FIELDS.forEach(([, name, round], i) => {
        into[`net.${name}`] = round(totals[i]!);
      });
    }
  }
}
