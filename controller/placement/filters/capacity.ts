/**
 * Assigned accounts, including placements in flight, must stay under `max_accounts`
 * (SPEC §3), and the server's account list must still fit one agent-protocol frame
 * (SPEC §6: 64 KiB a frame): `welcome`, `assign` and the agent's `report` carry it whole,
 * and a server whose list outgrew a frame could neither be told its accounts nor report.
 */
import { MAX_ACCOUNT_ID_LENGTH } from '../../../shared/ids.js';
import { ACCOUNT_LIST_BYTES, MAX_ACCOUNT_LIST, accountListBytes } from '../../../shared/protocol.js';
import type { Filter, PlacementRequest, ServerView } from '../types.js';

/**
 * Placement stops short of the protocol's limits: an account moving away still has its
 * file on the worker (and in the agent's report) for a moment after a new one took its
 * place, so reports keep room for 96 such ids or 8 KiB of them.
 */
export const PLACEMENT_MAX_IDS = MAX_ACCOUNT_LIST - 96;
/** Bytes of ids placement fills a server's list up to (see {@link PLACEMENT_MAX_IDS}). */
export const PLACEMENT_LIST_BYTES = ACCOUNT_LIST_BYTES - 8 * 1024;

/** What the longest account id adds to a list, bytes. */
const LONGEST_ID_BYTES = MAX_ACCOUNT_ID_LENGTH + accountListBytes('');
/** A list at most this long (bytes) has room for any account id. */
export const ROOM_FOR_ANY_ID = PLACEMENT_LIST_BYTES - LONGEST_ID_BYTES;

/**
 * The exact check, for a list near its limit. The count needs no check of its own on the
 * common path: `max_accounts` above {@link PLACEMENT_MAX_IDS} is lowered when the config is loaded.
 */
function listHasRoom(server: ServerView, request: PlacementRequest): boolean {
  // A rankings query names no account (''): the list must then have room for any id.
  const idBytes = request.account_id === '' ? LONGEST_ID_BYTES : accountListBytes(request.account_id);
  return server.accounts < PLACEMENT_MAX_IDS && server.account_list_bytes + idBytes <= PLACEMENT_LIST_BYTES;
}

/** Rejects full servers: "full: 5/5 accounts", or a full account list. */
export const capacityFilter = {
  name: 'capacity',
  applies: () => true,
  // The common case costs one comparison: a list far from its limit takes any id.
  passes: (server, request) => server.accounts < server.max_accounts &&
    (server.account_list_bytes <= ROOM_FOR_ANY_ID || listHasRoom(server, request)),
  reason: (server, request) => (server.accounts < server.max_accounts
    ? `account list full: the agent protocol carries at most ${MAX_ACCOUNT_LIST} ids in ${ACCOUNT_LIST_BYTES} bytes; placement stops at ${PLACEMENT_MAX_IDS} ids, ${PLACEMENT_LIST_BYTES} bytes (${server.accounts} ids, ${server.account_list_bytes} bytes)`
    : `full: ${server.accounts}/${server.max_accounts} accounts`),
} as const satisfies Filter;
