/**
 * Alerts (SPEC §9): webhooks receive `{event, severity, server_id?, account_id?,
 * message, at}`. Deliveries are retried with exponential backoff; the same event for
 * the same server is sent at most once per 5 minutes.
 */
import type { Logger } from '../shared/log.js';
import type { WebhookConfig } from './config.js';

/** Every alert event. */
export const ALERT_EVENTS = ['allocation_failed', 'server_down', 'server_up', 'server_overloaded', 'failover', 'rebalance', 'drift'] as const;
/** One of {@link ALERT_EVENTS}. */
export type AlertEvent = (typeof ALERT_EVENTS)[number];

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
}

/** Sends alerts to webhooks. */
export class Alerts {
  private readonly lastSent = new Map<string, number>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly controller = new AbortController();

  constructor(private readonly o: AlertsOptions) {}

  /** Queues an alert; returns false when it was suppressed as a repeat. */
  emit(alert: Alert): boolean {
    const hooks = this.o.webhooks().filter((w) => !w.events || w.events.includes(alert.event));
    const key = `${alert.event}\u0000${alert.server_id ?? ''}\u0000${alert.server_id ? '' : alert.account_id ?? ''}`;
    const now = Date.now();
    const last = this.lastSent.get(key);
    if (last !== undefined && now - last < (this.o.dedupeMs ?? 300_000)) return false;
    this.lastSent.set(key, now);
    this.o.logger.info({ event: alert.event, server_id: alert.server_id, account_id: alert.account_id }, `alert: ${alert.message}`);
    const body = JSON.stringify({ ...alert, at: new Date(now).toISOString() });
    for (const hook of hooks) {
      const p = this.deliver(hook.url, body).finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }
    return true;
  }

  private async deliver(url: string, body: string): Promise<void> {
    const attempts = this.o.attempts ?? 4;
    let delay = this.o.backoffMs ?? 1000;
    for (let i = 1; i <= attempts; i++) {
      try {
        const res = await fetch(url, {
          method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': 'berth-controller' }, body,
          signal: AbortSignal.any([this.controller.signal, AbortSignal.timeout(5000)]),
        });
        if (res.ok) return;
        if (res.status >= 400 && res.status < 500 && res.status !== 429) {
          this.o.logger.warn({ url: redactUrl(url), status: res.status }, 'webhook refused the alert');
          return;
        }
      } catch {
        if (this.controller.signal.aborted) return;
      }
      if (i < attempts) {
        await new Promise((r) => setTimeout(r, delay).unref());
        delay *= 2;
      }
    }
    this.o.logger.warn({ url: redactUrl(url), attempts }, 'webhook delivery failed');
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
