/**
 * Accounts per script id by server position, kept up to date by the fleet as accounts
 * are reserved, committed and removed, so placement reads one array slot per server
 * instead of a Map lookup (see `ScriptCounts` in placement/types.ts).
 */
import type { ScriptCounts } from '../placement/types.js';

/** One server's place in the index. */
export interface IndexedServer {
  position: number;
  readonly scripts: ReadonlyMap<string, number>;
}

/** Script id → counts aligned with the fleet's server list. */
export class ScriptIndex implements ScriptCounts {
  private readonly columns = new Map<string, { counts: Int32Array; total: number }>();
  private size = 0;

  /** Counts of a script by server position, or undefined when no server runs it. */
  of(scriptId: string): Int32Array | undefined {
    return this.columns.get(scriptId)?.counts;
  }

  /** Rebuilds the index for a new server list (positions are assigned here). */
  rebuild(servers: readonly IndexedServer[]): void {
    this.columns.clear();
    this.size = servers.length;
    for (let i = 0; i < servers.length; i++) {
      const s = servers[i]!;
      s.position = i;
      for (const [script, n] of s.scripts) this.add(script, i, n);
    }
  }

  /** Adds `delta` to a script's count at a server position. */
  add(scriptId: string, position: number, delta: number): void {
    if (position < 0 || position >= this.size) return;
    let column = this.columns.get(scriptId);
    if (!column) {
      if (delta <= 0) return;
      column = { counts: new Int32Array(this.size), total: 0 };
      this.columns.set(scriptId, column);
    }
    column.counts[position]! += delta;
    column.total += delta;
    if (column.total <= 0) this.columns.delete(scriptId);
  }
}
