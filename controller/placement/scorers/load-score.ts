/**
 * The load score (SPEC §3), 0–100, lower is better:
 * `w_cpu·cpu% + w_mem·memory% + w_acc·(accounts / max_accounts · 100) + w_disk·disk%`
 * with the weights normalised to sum 1. Scores are compared exactly and rounded to two
 * decimals only for display.
 */
import { BerthError } from '../../../shared/errors.js';
import type { ScoreBreakdown, ServerView, Weights } from '../types.js';

/** The default weights (SPEC §2), already summing to 1. */
export const DEFAULT_WEIGHTS: Readonly<Weights> = Object.freeze({ cpu: 0.3, memory: 0.3, accounts: 0.3, disk: 0.1 });

/**
 * Scales weights to sum 1. Throws `INVALID_REQUEST` when a weight is negative or not a
 * finite number, or when they sum to 0.
 */
export function normaliseWeights(weights: Weights): Readonly<Weights> {
  const { cpu, memory, accounts, disk } = weights;
  checkWeight('cpu', cpu);
  checkWeight('memory', memory);
  checkWeight('accounts', accounts);
  checkWeight('disk', disk);
  const sum = cpu + memory + accounts + disk;
  if (sum <= 0) throw new BerthError('INVALID_REQUEST', 'weights must not all be 0');
  return Object.freeze({ cpu: cpu / sum, memory: memory / sum, accounts: accounts / sum, disk: disk / sum });
}

function checkWeight(name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new BerthError('INVALID_REQUEST', `weight ${name} must be a finite number ≥ 0`, { weight: name });
  }
}

/** Clamps a percentage into 0–100; NaN and negatives count as 0. */
export function clampPercent(value: number): number {
  return value > 0 ? (value < 100 ? value : 100) : 0;
}

/** Accounts as a percentage of capacity (0–100); a server with no capacity counts as full. */
export function accountsPercent(accounts: number, maxAccounts: number): number {
  return maxAccounts > 0 ? clampPercent((accounts * 100) / maxAccounts) : 100;
}

/**
 * The exact score of raw load figures with normalised weights. Used for live servers and
 * for the rebalance planner's predicted ones; allocation-free.
 */
export function scoreOf(
  cpuPercent: number,
  memoryPercent: number,
  accounts: number,
  maxAccounts: number,
  diskPercent: number,
  w: Readonly<Weights>,
): number {
  return (
    w.cpu * clampPercent(cpuPercent) +
    w.memory * clampPercent(memoryPercent) +
    w.accounts * accountsPercent(accounts, maxAccounts) +
    w.disk * clampPercent(diskPercent)
  );
}

/** The exact load score of a server, with weights already normalised. Allocation-free. */
export function loadScore(server: ServerView, w: Readonly<Weights>): number {
  return scoreOf(server.cpu_percent, server.memory_percent, server.accounts, server.max_accounts, server.disk_percent, w);
}

/**
 * The score's parts, each multiplied by its weight, exact. `total` equals
 * {@link loadScore} bit for bit (same operations in the same order).
 */
export function scoreBreakdown(server: ServerView, w: Readonly<Weights>): ScoreBreakdown {
  const cpu = w.cpu * clampPercent(server.cpu_percent);
  const memory = w.memory * clampPercent(server.memory_percent);
  const accounts = w.accounts * accountsPercent(server.accounts, server.max_accounts);
  const disk = w.disk * clampPercent(server.disk_percent);
  return { cpu, memory, accounts, disk, total: cpu + memory + accounts + disk };
}

/** Rounds a score to two decimals for display. */
export function roundScore(score: number): number {
  return Math.round(score * 100) / 100;
}

/** A breakdown with every part rounded for display. */
export function roundBreakdown(b: ScoreBreakdown): ScoreBreakdown {
  return {
    cpu: roundScore(b.cpu),
    memory: roundScore(b.memory),
    accounts: roundScore(b.accounts),
    disk: roundScore(b.disk),
    total: roundScore(b.total),
  };
}

/** A score as people read it: two decimals ("23.40"). */
export function formatScore(score: number): string {
  return roundScore(score).toFixed(2);
}
