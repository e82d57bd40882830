/** A server whose disk is nearly full takes no new session files (SPEC §3). */
import type { Filter } from '../types.js';

/** Servers at or above this disk use take no accounts. */
export const DISK_LIMIT_PERCENT = 95;

/** Rejects servers with disk ≥ 95 %: "disk 96.1% ≥ 95%". */
export const diskFilter = {
  name: 'disk',
  applies: () => true,
  passes: (server) => server.disk_percent < DISK_LIMIT_PERCENT,
  reason: (server) => `disk ${server.disk_percent.toFixed(1)}% ≥ ${DISK_LIMIT_PERCENT}%`,
} as const satisfies Filter;
