/**
 * The agent wire protocol (SPEC §6). Both the controller and the agent import these
 * types; nothing else declares them. Raw JSON becomes one of these only through
 * `protocol-schema.ts`.
 */

/** Protocol version spoken by this build. */
export const PROTOCOL_VERSION = 1;

/** WebSocket path of the agents' endpoint, on the controller's HTTP port. */
export const AGENT_CONNECT_PATH = '/api/v1/agents/connect';

/** Header naming the node on the agent socket upgrade. */
export const NODE_HEADER = 'x-berth-node';

/** Largest accepted frame, in bytes, in either direction. */
export const MAX_FRAME_BYTES = 64 * 1024;

/**
 * Largest frame the controller reads before refusing it: frames up to this size that
 * exceed {@link MAX_FRAME_BYTES} are answered with an `error` (FRAME_TOO_LARGE) and close
 * 1008, like every other protocol error; larger ones are cut off unread by the WebSocket
 * layer with close 1009, so no agent can make the controller buffer more than this.
 */
export const FRAME_READ_LIMIT_BYTES = 2 * MAX_FRAME_BYTES;

/** Most account ids one list carries (`welcome`/`assign` `assigned`, `report` `accounts`). */
export const MAX_ACCOUNT_LIST = 4096;

/**
 * Bytes an account list may take in a frame (each id as JSON: its length plus quotes and
 * a comma), leaving 1 KiB of {@link MAX_FRAME_BYTES} for the message's other fields.
 */
export const ACCOUNT_LIST_BYTES = MAX_FRAME_BYTES - 1024;

/** What an account id adds to a list's JSON: the id, two quotes and a comma. */
export function accountListBytes(accountId: string): number {
  return accountId.length + 3;
}

/** First message of every agent connection. */
export interface HelloMessage {
  type: 'hello';
  protocol: number;
  node_id: string;
  agent_version: string;
  hostname: string;
  sessions_dir: string;
}

/** Periodic load report from an agent. */
export interface ReportMessage {
  type: 'report';
  seq: number;
  sent_at: string;
  cpu_percent: number;
  memory_percent: number;
  disk_percent: number;
  load_avg: number[];
  /** Account ids whose `.session` files are present in `sessions_dir`. */
  accounts: string[];
}

/** Controller's answer to `hello`. */
export interface WelcomeMessage {
  type: 'welcome';
  protocol: number;
  report_interval_ms: number;
  lease_ms: number;
  assigned: string[];
}

/** The full list of accounts assigned to the agent's server; sent whenever it changes. */
export interface AssignMessage {
  type: 'assign';
  assigned: string[];
}

/** A protocol error; the controller closes the socket with 1008 right after. */
export interface ErrorMessage {
  type: 'error';
  code: string;
  message: string;
}

/** Any message an agent may send. */
export type AgentMessage = HelloMessage | ReportMessage;

/** Any message the controller may send. */
export type ControllerMessage = WelcomeMessage | AssignMessage | ErrorMessage;

/** WebSocket close codes used by Berth. */
export const CloseCode = Object.freeze({
  /** Controller shutting down. */
  GOING_AWAY: 1001,
  /** Protocol violation: malformed frame, report before hello, bad fields. */
  POLICY_VIOLATION: 1008,
  /** Frame larger than {@link MAX_FRAME_BYTES}. */
  MESSAGE_TOO_BIG: 1009,
  /** A newer connection for the same node replaced this one. */
  REPLACED: 4000,
});
