/** What the HTTP routes are given: read access to the fleet and store, and the operations. */
import type { BerthConfig } from '../config.js';
import type { Fleet } from '../fleet/fleet.js';
import type { AgentHub } from '../fleet/agent-hub.js';
import type { Store } from '../store/store.js';
import type { SessionFiles } from '../store/session-files.js';
import type { Operations } from '../operations/types.js';
import type { AccountService } from '../operations/account-service.js';
import type { Registry } from 'prom-client';

/** Collaborators of the admin API. */
export interface ApiContext {
  config(): BerthConfig;
  fleet: Fleet;
  hub: AgentHub;
  store: Store;
  sessions: SessionFiles;
  operations: Operations;
  accounts: AccountService;
  metrics: Registry;
}
