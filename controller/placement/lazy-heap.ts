/**
 * A binary heap of server indices for the rebalance planner, with lazy updates: a
 * server whose score changes is pushed again with a new version, and stale entries are
 * dropped when they reach the top. Ordered by score (ascending, or descending when
 * `highestFirst`), then by index ascending (the planner indexes servers in id order, so
 * ties break by server id).
 */
export class LazyHeap {
  private readonly index: number[] = [];
  private readonly version: number[] = [];
  private readonly score: number[] = [];
  private readonly sign: number;

  /** `highestFirst`: the top is the highest score (a max-heap). */
  constructor(options: { highestFirst: boolean }) {
    this.sign = options.highestFirst ? -1 : 1;
  }

  /** Entries held, stale ones included. */
  get size(): number {
    return this.index.length;
  }

  /** Adds a server with its score as of `version`. */
  push(index: number, version: number, score: number): void {
    this.index.push(index);
    this.version.push(version);
    this.score.push(score * this.sign);
    this.up(this.index.length - 1);
  }

  /**
   * The top server index whose entry is current (`isCurrent(index, version)`), dropping
   * stale entries on the way; -1 when none is left. The entry stays in the heap.
   */
  peek(isCurrent: (index: number, version: number) => boolean): number {
    while (this.index.length > 0) {
      if (isCurrent(this.index[0]!, this.version[0]!)) return this.index[0]!;
      this.pop();
    }
    return -1;
  }

  /** Removes the top entry. */
  pop(): void {
    const last = this.index.length - 1;
    this.swap(0, last);
    this.index.pop();
    this.version.pop();
    this.score.pop();
    this.down(0);
  }

  private before(a: number, b: number): boolean {
    const sa = this.score[a]!;
    const sb = this.score[b]!;
    return sa < sb || (sa === sb && this.index[a]! < this.index[b]!);
  }

  private swap(a: number, b: number): void {
    const { index, version, score } = this;
    const i = index[a]!;
    index[a] = index[b]!;
    index[b] = i;
    const v = version[a]!;
    version[a] = version[b]!;
    version[b] = v;
    const s = score[a]!;
    score[a] = score[b]!;
    score[b] = s;
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const n = this.index.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let top = i;
      if (l < n && this.before(l, top)) top = l;
      if (r < n && this.before(r, top)) top = r;
      if (top === i) return;
      this.swap(i, top);
      i = top;
    }
  }
}
