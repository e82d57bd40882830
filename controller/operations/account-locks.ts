/**
 * One operation per account at a time: allocate, move, release and recovery of the same
 * account queue behind each other, so two flows can never place the same session twice.
 */
export class AccountLocks {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `fn` once every earlier holder of `accountId` has finished. */
  async with<T>(accountId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(accountId) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((r) => (done = r));
    const tail = prev.then(() => mine);
    this.tails.set(accountId, tail);
    await prev;
    try {
      return await fn();
    } finally {
      done();
      if (this.tails.get(accountId) === tail) this.tails.delete(accountId);
    }
  }

  /** True when some operation holds or waits for `accountId`. */
  busy(accountId: string): boolean {
    return this.tails.has(accountId);
  }

  /** Resolves when no account is locked. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all([...this.tails.values()]);
  }
}
