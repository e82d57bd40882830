#!/usr/bin/env node
/**
 * Load generator for the agent-ingest benchmark (a child process with an IPC channel):
 * plays many agents at once over real WebSockets. Each agent connects with its own
 * token and `X-Berth-Node`, says hello, reports at once after `welcome` and then every
 * `report_interval_ms` the controller asked for, and reconnects when closed.
 *
 * IPC in: `{type: 'marker', server_id, value}` sends that agent a report now with
 * `cpu_percent = value` (and its later reports keep that value). IPC out: `{type: 'status', connected, welcomed, reports}` every
 * second, and `{type: 'marker_sent', server_id, value}`.
 */
import { WebSocket } from 'ws';
import { AGENT_CONNECT_PATH, NODE_HEADER, PROTOCOL_VERSION } from '../../shared/protocol.js';
import { agentToken } from '../../test/helpers/controller-fixture.js';

interface Args {
  port: number;
  ids: string[];
  /** Connections opened at once while ramping up. @defaultValue 100 */
  ramp?: number;
}

interface Sim {
  id: string;
  ws: WebSocket | null;
  welcomed: boolean;
  seq: number;
  timer: NodeJS.Timeout | null;
  /** The last marker value: later reports keep it, so a routine report cannot hide it. */
  marker: number | null;
}

const args = JSON.parse(process.argv[2]!) as Args;
const sims = new Map<string, Sim>(args.ids.map((id) => [id, { id, ws: null, welcomed: false, seq: 0, timer: null, marker: null }]));
let reports = 0;
let closing = false;

function report(sim: Sim, cpu?: number): void {
  if (!sim.ws || sim.ws.readyState !== WebSocket.OPEN || !sim.welcomed) return;
  sim.ws.send(JSON.stringify({
    type: 'report', seq: ++sim.seq, sent_at: new Date().toISOString(),
    cpu_percent: cpu ?? sim.marker ?? Math.round(Math.random() * 800) / 10, memory_percent: Math.round(Math.random() * 800) / 10,
    disk_percent: 40, load_avg: [0.1, 0.2, 0.3], accounts: [],
  }));
  reports++;
}

function connect(sim: Sim): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${args.port}${AGENT_CONNECT_PATH}`, {
      headers: { authorization: `Bearer ${agentToken(sim.id)}`, [NODE_HEADER]: sim.id }, perMessageDeflate: false,
    });
    sim.ws = ws;
    ws.on('open', () => {
      ws.send(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, node_id: sim.id, agent_version: 'bench', hostname: sim.id, sessions_dir: '/nonexistent/sessions' }));
      resolve();
    });
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { type: string; report_interval_ms?: number };
      if (msg.type !== 'welcome') return;
      sim.welcomed = true;
      report(sim);
      if (sim.timer) clearInterval(sim.timer);
      sim.timer = setInterval(() => report(sim), msg.report_interval_ms ?? 5000);
    });
    ws.on('error', () => resolve());
    ws.on('close', () => {
      sim.welcomed = false;
      if (sim.timer) clearInterval(sim.timer);
      sim.timer = null;
      resolve();
      if (!closing) setTimeout(() => void connect(sim), 1000 + Math.random() * 1000);
    });
  });
}

async function main(): Promise<void> {
  const ramp = args.ramp ?? 100;
  const list = [...sims.values()];
  setInterval(() => {
    let connected = 0;
    let welcomed = 0;
    for (const s of list) {
      if (s.ws?.readyState === WebSocket.OPEN) connected++;
      if (s.welcomed) welcomed++;
    }
    process.send?.({ type: 'status', connected, welcomed, reports });
  }, 1000);
  process.on('message', (m: { type: string; server_id: string; value: number }) => {
    if (m.type === 'marker') {
      const sim = sims.get(m.server_id);
      if (sim) {
        sim.marker = m.value;
        report(sim, m.value);
      }
      process.send?.({ type: 'marker_sent', server_id: m.server_id, value: m.value });
    } else if (m.type === 'stop') {
      closing = true;
      for (const s of list) s.ws?.terminate();
      setTimeout(() => process.exit(0), 100);
    }
  });
  for (let i = 0; i < list.length; i += ramp) await Promise.all(list.slice(i, i + ramp).map(connect));
}

void main();
