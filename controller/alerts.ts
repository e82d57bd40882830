/**
 * Alerts (SPEC §9): webhooks receive `{event, severity, server_id?, account_id?,
 * message, at}`. Deliveries are retried with exponential backoff; the same event for
 * the same server is sent at most once per 5 minutes.
 */
import type { Logger } from '../shared/log.js';
import { ALERT_EVENTS, type AlertEvent, type WebhookConfig } from './config.js';

export { ALERT_EVENTS, type AlertEvent };

/** An alert before it is stamped. */
export interface Alert {
  event: AlertEvent;
  severity: 'info' | 'warning' | 'critical';
  server_id?: string;
  account_id?: string;
  message: string;
}

/** Options of {@link Alerts}. */
export interface AlertsOptions {
  webhooks: () => readonly WebhookConfig[];
  logger: Logger;
  /** @defaultValue 300000 (5 minutes) */
  dedupeMs?: number;
  /** Delivery attempts per webhook. @defaultValue 4 */
  attempts?: number;
  /** First retry delay; doubles each time. @defaultValue 1000 */
  backoffMs?: number;
  /** Secret values (tokens, passwords) to blank out of any message before it is sent. @defaultValue none */
  secrets?: () => Iterable<string | null | undefined>;
  /** Observes every alert: `sent` is false when it was suppressed as a repeat. */
  onEmit?: (event: AlertEvent, sent: boolean) => void;
  /** Observes every webhook delivery once it succeeded or was given up. */
  onDelivery?: (ok: boolean) => void;
}

/**
 * Blanks secret values out of a message. Secrets are grouped by length, so each position
 * of a message is checked once per distinct length, however many servers (and tokens)
 * the fleet has.
 */
class Scrubber {
  /** Secrets by length, longest first (a longer secret may contain a shorter one). */
  private readonly byLength: [number, Set<string>][];

  constructor(secrets: Iterable<string | null | undefined>) {
    const map = new Map<number, Set<string>>();
    for (const secret of secrets) {
      if (!secret || secret.length < 4) continue;
      let set = map.get(secret.length);
      if (!set) map.set(secret.length, (set = new Set()));
      set.add(secret);
    }
    this.byLength = [...map].sort((a, b) => b[0] - a[0]);
  }

  /**
   * One pass over the original message: where a secret starts (the longest first), it is
   * replaced and skipped; the replacement text is never scanned again.
   */
  scrub(message: string): string {
    let out = '';
    let copiedTo = 0;
    for (let i = 0; i < message.length;) {
      let hit = 0;
      for (const [len, set] of this.byLength) {
        if (i + len <= message.length && set.has(message.slice(i, i + len))) {
          hit = len;
          break;
        }
      }
      if (hit === 0) {
        i++;
        continue;
      }
      out += `${message.slice(copiedTo, i)}[redacted]`;
      i += hit;
      copiedTo = i;
    }
    return copiedTo === 0 ? message : out + message.slice(copiedTo);
  }
}

/** Sends alerts to webhooks. */
export class Alerts {
  private readonly lastSent = new Map<string, number>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly controller = new AbortController();
  /** One scrubber per secrets list the option returned (a list per config, in the controller). */
  private readonly scrubbers = new WeakMap<object, Scrubber>();

  constructor(private readonly o: AlertsOptions) {}

  /** Queues an alert; returns false when it was suppressed as a repeat. */
  emit(alert: Alert): boolean {
    const hooks = this.o.webhooks().filter((w) => !w.events || w.events.includes(alert.event));
    const key = `${alert.event}\u0000${alert.server_id ?? ''}\u0000${alert.server_id ? '' : alert.account_id ?? ''}`;
    const now = Date.now();
    const last = this.lastSent.get(key);
    if (last !== undefined && now - last < (this.o.dedupeMs ?? 300_000)) {
      this.o.logger.debug({ event: alert.event, server_id: alert.server_id, account_id: alert.account_id }, 'alert suppressed: sent less than the repeat window ago');
      this.o.onEmit?.(alert.event, false);
      return false;
    }
    this.lastSent.set(key, now);
    this.o.onEmit?.(alert.event, true);
    const message = this.scrub(alert.message);
    this.o.logger.info({ event: alert.event, server_id: alert.server_id, account_id: alert.account_id }, `alert: ${message}`);
    const body = JSON.stringify({
      event: alert.event, severity: alert.severity,
      ...(alert.server_id !== undefined ? { server_id: alert.server_id } : {}),
      ...(alert.account_id !== undefined ? { account_id: alert.account_id } : {}),
      message, at: new Date(now).toISOString(),
    });
    for (const hook of hooks) {
      const p = this.deliver(hook.url, body).finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }
    return true;
  }

  private scrub(message: string): string {
    const source = this.o.secrets?.();
    if (!source) return message;
    let scrubber = typeof source === 'object' ? this.scrubbers.get(source) : undefined;
    if (!scrubber) {
      scrubber = new Scrubber(source);
      if (typeof source === 'object') this.scrubbers.set(source, scrubber);
    }
    return scrubber.scrub(message);
  }

  private async deliver(url: string, body: string): Promise<void> {
    const ok = await this.attempt(url, body);
    this.o.onDelivery?.(ok);
  }

  /** Posts `body` until it is accepted (true) or given up (false). */
  private async attempt(url: string, body: string): Promise<boolean> {
    const attempts = this.o.attempts ?? 4;
    let delay = this.o.backoffMs ?? 1000;
    for (let i = 1; i <= attempts; i++) {
      try {
        const res = await fetch(url, {
          method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': 'berth-controller' }, body,
          signal: AbortSignal.any([this.controller.signal, AbortSignal.timeout(5000)]),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return true;
        if (res.status >= 400 && res.status < 500 && res.status !== 429) {
          this.o.logger.warn({ url: redactUrl(url), status: res.status }, 'webhook refused the alert');
          return false;
        }
      } catch {
        if (this.controller.signal.aborted) return false;
      }
      if (i < attempts) {
        await new Promise((r) => setTimeout(r, delay).unref());
        delay *= 2;
      }
    }
    this.o.logger.warn({ url: redactUrl(url), attempts }, 'webhook delivery failed');
    return false;
  }

  /** Gives deliveries in flight a moment, then abandons them. */
  async close(): Promise<void> {
    await Promise.race([Promise.all([...this.inFlight]), new Promise((r) => setTimeout(r, 2000).unref())]);
    this.controller.abort();
  }
}

/** A webhook URL without credentials or query (which may hold tokens). */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '[invalid url]';
  }
}

/** Load score at or above which a server counts as overloaded. */
export const OVERLOAD_SCORE = 90;
/** Disk use (percent) at or above which a server counts as overloaded (also where placement stops). */
export const OVERLOAD_DISK_PERCENT = 95;

/** Why a server with these figures is overloaded, or null when it is not. */
export function overloadReason(score: number, diskPercent: number): string | null {
  const why: string[] = [];
  if (score >= OVERLOAD_SCORE) why.push(`load score ${score.toFixed(1)} >= ${OVERLOAD_SCORE}`);
  if (diskPercent >= OVERLOAD_DISK_PERCENT) why.push(`disk ${diskPercent.toFixed(1)} % >= ${OVERLOAD_DISK_PERCENT} %`);
  return why.length > 0 ? why.join(', ') : null;
}

/**
 * Emits `server_overloaded` when a server's report takes it over a threshold
 * ({@link overloadReason}); it re-arms once a report shows it back under both.
 * The 5-minute repeat rule of {@link Alerts} applies on top.
 */
export class OverloadWatch {
  private readonly overloaded = new Set<string>();

  constructor(private readonly alerts: Alerts) {}

  /** Feeds one server's figures after a report. */
  check(serverId: string, score: number, diskPercent: number): void {
    const why = overloadReason(score, diskPercent);
    if (why === null) {
      this.overloaded.delete(serverId);
      return;
    }
    if (this.overloaded.has(serverId)) return;
    this.overloaded.add(serverId);
    this.alerts.emit({ event: 'server_overloaded', severity: 'warning', server_id: serverId, message: `server ${serverId} is overloaded: ${why}` });
  }

  /** Forgets a server (removed from the config). */
  forget(serverId: string): void {
    this.overloaded.delete(serverId);
  }
}
