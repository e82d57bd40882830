import { expect } from 'chai';
import { BACKOFF_CAP_MS, BACKOFF_FLOOR_MS, backoffDelay } from '../../agent/connection.js';
import { createRequire } from 'node:module';
import { meminfoUse, mountFor, SystemMetrics, toPercent } from '../../agent/metrics.js';
import { tempDir } from './helpers.js';

describe('agent reconnect backoff', () => {
  it('is full jitter within min(30 s, 0.5 s · 2^attempt), never under the floor', () => {
    const table = [
      { attempt: 0, random: 0, want: BACKOFF_FLOOR_MS },
      { attempt: 0, random: 0.5, want: 250 },
      { attempt: 0, random: 0.999999, want: 499 },
      { attempt: 1, random: 0.5, want: 500 },
      { attempt: 3, random: 0.999999, want: 3999 },
      { attempt: 5, random: 0.5, want: 8000 },
      { attempt: 6, random: 0.999999, want: 29999 },
      { attempt: 6, random: 0.5, want: 15000 },
      { attempt: 40, random: 0.999999, want: 29999 },
      { attempt: 1000, random: 0.5, want: 15000 },
      { attempt: 2, random: 0.01, want: BACKOFF_FLOOR_MS },
    ];
    for (const { attempt, random, want } of table) {
      expect(backoffDelay(attempt, () => random), `attempt ${attempt}, random ${random}`).to.equal(want);
    }
  });

  it('stays within bounds for random draws at every attempt', () => {
    for (let attempt = 0; attempt < 50; attempt++) {
      const window = Math.min(BACKOFF_CAP_MS, 500 * 2 ** attempt);
      for (let i = 0; i < 50; i++) {
        const d = backoffDelay(attempt);
        expect(d).to.be.at.least(BACKOFF_FLOOR_MS).and.at.most(Math.max(BACKOFF_FLOOR_MS, window));
      }
    }
  });
});

describe('agent metrics', () => {
  it('picks the mount with the longest prefix of the path', () => {
    const mounts = [
      { mount: '/', use: 10 },
      { mount: '/home', use: 20 },
      { mount: '/home/ubuntu', use: 30 },
      { mount: '/homebrew', use: 40 },
    ];
    const table = [
      { path: '/home/ubuntu/sessions', want: 30 },
      { path: '/home/ubuntu', want: 30 },
      { path: '/home/other/sessions', want: 20 },
      { path: '/homebrew/x', want: 40 },
      { path: '/homely', want: 10 },
      { path: '/var/lib/berth', want: 10 },
    ];
    for (const { path, want } of table) expect(mountFor(path, mounts)?.use, path).to.equal(want);
    expect(mountFor('/x', [])).to.equal(null);
  });

  it('clamps percentages to 0–100', () => {
    expect(toPercent(-3)).to.equal(0);
    expect(toPercent(104)).to.equal(100);
    expect(toPercent(NaN)).to.equal(0);
    expect(toPercent(12.3456)).to.equal(12.35);
  });

  it('samples sane cpu, memory, disk and load figures for a real directory', async () => {
    const dir = tempDir();
    try {
      const metrics = new SystemMetrics({ sessionsDir: dir.path });
      let x = 0;
      for (let i = 0; i < 2e6; i++) x += i; // some cpu between the baseline and the sample
      const s = await metrics.sample();
      expect(x).to.be.greaterThan(0);
      for (const k of ['cpu_percent', 'memory_percent', 'disk_percent'] as const) {
        expect(s[k], k).to.be.a('number').within(0, 100);
      }
      expect(s.memory_percent, 'some memory is in use').to.be.greaterThan(0);
      expect(s.disk_percent, 'the filesystem of a temp dir holds something').to.be.greaterThan(0);
      expect(s.load_avg).to.have.length(3);
      for (const v of s.load_avg) expect(v).to.be.at.least(0);
    } finally {
      dir.cleanup();
    }
  });

  it('reads memory in use from /proc/meminfo as systeminformation counts it (total − available)', () => {
    const text = [
      'MemTotal:       24684084 kB', 'MemFree:        18001232 kB', 'MemAvailable:   21500000 kB',
      'Buffers:          123456 kB', 'Cached:          3000000 kB', 'SwapTotal:              0 kB', '',
    ].join('\n');
    expect(meminfoUse(text)).to.deep.equal({ total: 24684084 * 1024, active: (24684084 - 21500000) * 1024 });
    // Without MemAvailable (kernels before 3.14) the agent asks systeminformation instead.
    expect(meminfoUse(text.replace(/^MemAvailable.*$/m, ''))).to.equal(null);
    expect(meminfoUse('')).to.equal(null);
    expect(meminfoUse('MemTotal: x kB\nMemAvailable: 1 kB')).to.equal(null);
  });

  it('reports the same memory figure as systeminformation\'s mem() on this machine', async function () {
    const dir = tempDir();
    try {
      type Mem = { mem(): Promise<{ active: number; total: number }> };
      const si = createRequire(import.meta.url)('systeminformation/lib/memory.js') as Mem;
      const metrics = new SystemMetrics({ sessionsDir: dir.path });
      // Read around ours, so other processes' churn in between cannot fail the test.
      const percent = (m: { active: number; total: number }) => (100 * m.active) / m.total;
      const before = percent(await si.mem());
      const ours = (await metrics.sample()).memory_percent;
      const after = percent(await si.mem());
      // Half a point of margin: memory may also grow and shrink again between the reads.
      expect(ours).to.be.within(Math.min(before, after) - 0.5, Math.max(before, after) + 0.5);
    } finally {
      dir.cleanup();
    }
  });
});
