/**
 * Prometheus metrics (prom-client): per-server load and health, allocations and moves
 * by type and outcome, upload durations, agent connections and protocol errors, and
 * the process's own metrics. Per-server gauges are read from the fleet at scrape time.
 */
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Fleet } from './fleet/fleet.js';
import { loadScore } from './placement/scorers/load-score.js';
import type { Weights } from './placement/types.js';

/** The controller's metrics. */
export class ControllerMetrics {
  readonly registry = new Registry();
  readonly allocations: Counter<'type' | 'outcome'>;
  readonly moves: Counter<'type' | 'outcome'>;
  readonly uploadSeconds: Histogram<'outcome'>;
  readonly agentConnections: Counter<'server_id'>;
  readonly protocolErrors: Counter<'code'>;
  readonly alerts: Counter<'event' | 'outcome'>;
  readonly alertDeliveries: Counter<'outcome'>;

  constructor(fleet: Fleet, weights: () => Weights, agentsConnected: () => number) {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'berth_controller_' });
    // Time the event loop spent running code rather than waiting: its rate over a window
    // is the loop's utilisation (1 = saturated, the controller's ceiling).
    let busyMs = performance.eventLoopUtilization().active;
    new Counter({
      name: 'berth_controller_event_loop_busy_seconds_total', help: 'Time the event loop spent busy (not waiting for I/O or timers)', registers: [r],
      collect() {
        const now = performance.eventLoopUtilization().active;
        this.inc(Math.max(0, now - busyMs) / 1000);
        busyMs = now;
      },
    });
    const perServer = (name: string, help: string, value: (s: Fleet['servers'][number]) => number) =>
      new Gauge({
        name, help, labelNames: ['server_id'], registers: [r],
        collect() {
          this.reset();
          for (const s of fleet.servers) this.set({ server_id: s.server_id }, value(s));
        },
      });
    perServer('berth_server_load_score', 'Weighted load score (0-100, lower is better)', (s) => loadScore(s, weights()));
    perServer('berth_server_cpu_percent', 'CPU use reported by the agent', (s) => s.cpu_percent);
    perServer('berth_server_memory_percent', 'Memory use reported by the agent', (s) => s.memory_percent);
    perServer('berth_server_disk_percent', 'Disk use of the sessions filesystem', (s) => s.disk_percent);
    perServer('berth_server_accounts', 'Accounts assigned, including placements in flight', (s) => s.accounts);
    perServer('berth_server_max_accounts', 'Configured capacity', (s) => s.max_accounts);
    perServer('berth_server_up', '1 when the agent is connected and reporting', (s) => (s.healthy ? 1 : 0));
    new Gauge({ name: 'berth_agents_connected', help: 'Agents connected now', registers: [r], collect() { this.set(agentsConnected()); } });
    this.allocations = new Counter({ name: 'berth_allocations_total', help: 'Placements: ok = committed (by allocation_type: initial, manual, rebalance, failover, drain), failed = allocations that could not be placed', labelNames: ['type', 'outcome'], registers: [r] });
    this.moves = new Counter({ name: 'berth_moves_total', help: 'Moves (rebalance, drain, failover, manual, release) by type and outcome', labelNames: ['type', 'outcome'], registers: [r] });
    this.uploadSeconds = new Histogram({ name: 'berth_upload_duration_seconds', help: 'Session upload durations', labelNames: ['outcome'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [r] });
    this.agentConnections = new Counter({ name: 'berth_agent_connections_total', help: 'Agent connections welcomed', labelNames: ['server_id'], registers: [r] });
    this.protocolErrors = new Counter({ name: 'berth_agent_protocol_errors_total', help: 'Agent frames or upgrades refused', labelNames: ['code'], registers: [r] });
    this.alerts = new Counter({ name: 'berth_alerts_total', help: 'Alerts by event; outcome sent, or suppressed as a repeat within 5 minutes', labelNames: ['event', 'outcome'], registers: [r] });
    this.alertDeliveries = new Counter({ name: 'berth_alert_deliveries_total', help: 'Webhook deliveries: ok, or failed after every retry', labelNames: ['outcome'], registers: [r] });
  }
}
