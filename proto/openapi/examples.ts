// Example values for the document, around one instant: recent enough that the
// receiver accepts the examples as they are (the tests post them).

export type Examples = ReturnType<typeof examples>;

/** Example values around `t` (the document's clock, whole seconds): recent enough to be accepted. */
export function examples(t: number) {
  const iso = (ms: number) => new Date(ms).toISOString();
  const host = 'web-01';
  const recordingOn = { recording: true, paused_by: null, since: null, wiped_before: null };
  const recordingPaused = {
    recording: false,
    paused_by: 'host',
    since: iso(t - 600_000),
    wiped_before: null,
  };
  const minute = Math.floor((t - 180_000) / 60_000) * 60_000;
  const incident = {
    id: '3f9c2a71b8d04e65',
    rule: 'cpu-high',
    host,
    metric: 'cpu',
    severity: 'warning',
    state: 'resolved',
    opened_at: iso(t - 900_000),
    opened_at_ms: t - 900_000,
    resolved_at: iso(t - 830_000),
    resolved_at_ms: t - 830_000,
    aggregate: 'avg',
    op: '>',
    threshold: 90,
    resolve_threshold: 85.5,
    window: '3 samples',
    min: 84.9,
    avg: 92.6,
    max: 97.9,
    samples: 15,
    trigger: [
      [t - 910_000, 91.5],
      [t - 905_000, 94],
      [t - 900_000, 96.2],
    ],
  };
  const openIncident = {
    ...incident,
    id: '9b41e07c5d2a3f18',
    state: 'open',
    opened_at: iso(t - 20_000),
    opened_at_ms: t - 20_000,
    resolved_at: null,
    resolved_at_ms: null,
    min: 92.4,
    avg: 95.1,
    max: 98.2,
    samples: 5,
    trigger: [
      [t - 30_000, 92.4],
      [t - 25_000, 94.8],
      [t - 20_000, 96.3],
    ],
  };
  const sparklineFrom = t - (t % 60_000) - 14 * 60_000;
  return {
    t,
    host,
    iso,
    sampleId: 'k3Jd9QxZ-2f4',
    metrics: { cpu: 12.5, mem: 41.3, gpu: 1, 'load.1': 0.42 },
    perCore: {
      cpu: 12.5,
      'cpu.core.0': 10.1,
      'cpu.core.1': 14.9,
      'disk.used.root': 63.2,
      'net.eth0.rx_bytes_per_s': 1843.5,
    },
    batch: {
      samples: [
        { id: 'k3Jd9QxZ-2f1', time: t - 15_000, interval: 5, metrics: { cpu: 11.5, mem: 41.2 } },
        { id: 'k3Jd9QxZ-2f2', time: t - 10_000, interval: 5, metrics: { cpu: 12, mem: 41.2 } },
        { id: 'k3Jd9QxZ-2f3', time: t - 5_000, interval: 5, metrics: { cpu: 13.25, mem: 41.3 } },
      ],
    },
    recordingOn,
    recordingPaused,
    reading: {
      value: 12.5,
      host,
      time: iso(t),
      time_ms: t,
      age_seconds: 1.2,
      interval: 5,
      stale: false,
    },
    hostInfo: {
      host,
      last_seen: iso(t),
      last_seen_ms: t,
      first_seen: iso(t - 36_000_000),
      age_seconds: 1.2,
      interval: 5,
      stale: false,
      samples: 7200,
      samples_stored: 7200,
      recording: recordingOn,
    },
    rawHistory: {
      host,
      metric: 'cpu',
      step: 'raw',
      from: t - 3_600_000,
      to: t,
      interval: 5,
      gap_after_ms: 10_000,
      columns: ['time', 'value'],
      points: [
        [t - 3_600_000, null],
        [t - 30_000, 12.5],
        [t - 25_000, 13],
        [t - 20_000, null],
        [t - 5_000, 11.5],
        [t, 12.5],
      ],
    },
    minuteHistory: {
      host,
      metric: 'cpu',
      step: '1m',
      from: t - 180_000,
      to: t,
      interval: 5,
      columns: ['time', 'avg', 'count', 'min', 'max'],
      points: [
        [minute, 12.75, 12, 11, 14.5],
        [minute + 60_000, null, 0, null, null],
        [minute + 120_000, 13.1, 12, 12, 14],
        [minute + 180_000, 12.4, 7, 11.5, 13.5],
      ],
    },
    incident,
    openIncident,
    summary: {
      time_ms: t,
      raw_retention_ms: 86_400_000,
      minute_retention_ms: 2_592_000_000,
      gap_factor: 2,
      stale_factor: 3,
      offline_factor: 10,
      recording: recordingOn,
      metrics: ['cpu', 'mem', 'disk', 'load.1'],
      sparkline: { metric: 'cpu', from_ms: sparklineFrom, step_ms: 60_000 },
      hosts: [
        {
          host,
          state: 'live',
          last_seen_ms: t - 1_200,
          age_seconds: 1.2,
          interval: 5,
          recording: true,
          values: { cpu: 96.3, mem: 41.3, disk: 63.2, 'load.1': 3.42 },
          sparkline: [
            12.5,
            13.1,
            12.8,
            null,
            null,
            14.2,
            13.9,
            12.7,
            13.3,
            15.8,
            40.2,
            71.5,
            92.4,
            95.6,
            96.1,
          ],
          open_incidents: [{ severity: 'warning', count: 1 }],
        },
      ],
      incidents: [openIncident],
    },
  };
}
