/**
 * JSON views of servers for the API: configuration without secrets and live state.
 * Passwords, key paths and agent tokens never leave the controller.
 */
import type { ServerState } from './server-state.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Live figures shared by rankings and the servers API. */
export function liveFields(s: ServerState) {
  return {
    status: s.status,
    healthy: s.healthy,
    location: s.location,
    cpu_percent: s.cpu_percent,
    memory_percent: s.memory_percent,
    disk_percent: s.disk_percent,
    accounts: s.accounts,
    reported_accounts: s.reported_accounts,
    max_accounts: s.max_accounts,
    latency_ms: s.latency_ms,
    last_report_at: iso(s.last_report_at),
    consecutive_failures: s.consecutive_failures,
  };
}

/** A server as GET /servers shows it. */
export function serverJson(s: ServerState, opts: { withAccounts: boolean }) {
  const c = s.config;
  return {
    server_id: s.server_id,
    host: c.host,
    port: c.port,
    user: c.user,
    node_id: s.server_id,
    deploy_dir: c.deploy_dir,
    sessions_dir: c.sessions_dir,
    configured_status: c.status,
    status_override: s.statusOverride,
    auth: c.private_key_path ? 'private_key' : c.password ? 'password' : 'none',
    host_key_pinned: c.host_key !== null,
    ...liveFields(s),
    connected: s.connected,
    load_avg: s.load_avg,
    last_down_at: iso(s.last_down_at),
    agent: s.agent,
    in_flight: s.inFlight.size,
    ...(opts.withAccounts ? { account_ids: [...s.assigned.keys()].sort(), reported_account_ids: s.reportedIds } : {}),
  };
}
