/**
 * Host key fingerprints in OpenSSH's notation and the in-memory {@link HostKeyStore}.
 */
import { createHash } from 'node:crypto';
import type { HostKeyStore } from './types.js';

/**
 * OpenSSH `SHA256:` fingerprint of a raw host key blob (as ssh-keygen -l prints it):
 * base64 of the SHA-256 of the blob, without `=` padding.
 */
export function hostKeyFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * Normalises a fingerprint written by a person: trims it, adds the `SHA256:` prefix when
 * missing and drops base64 padding, so `SHA256:abc=` and `abc` compare equal.
 */
export function normalizeFingerprint(fp: string): string {
  const trimmed = fp.trim();
  const body = trimmed.startsWith('SHA256:') ? trimmed.slice('SHA256:'.length) : trimmed;
  return `SHA256:${body.replace(/=+$/, '')}`;
}

/** A {@link HostKeyStore} kept in memory: for tests, and for tools without a database. */
export class MemoryHostKeyStore implements HostKeyStore {
  readonly #keys = new Map<string, string>();

  /** @inheritDoc */
  async get(serverId: string): Promise<string | null> {
    return this.#keys.get(serverId) ?? null;
  }

  /** @inheritDoc */
  async record(serverId: string, fingerprint: string): Promise<void> {
    this.#keys.set(serverId, fingerprint);
  }

  /** Forgets a server's recorded key (what an operator does after a planned key change). */
  forget(serverId: string): void {
    this.#keys.delete(serverId);
  }
}
