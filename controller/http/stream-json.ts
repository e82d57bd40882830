/**
 * Sends a JSON object whose last member is a long array, in pieces. A whole fleet's
 * rankings is megabytes of JSON: built as one string (and one buffer) it lands in V8's
 * large-object space on every call and drives full garbage collections, whose pauses
 * delay everything else on the event loop. Pieces of a few dozen KiB stay young and die
 * young, and once {@link BUFFER_BUDGET} bytes wait for the client the next piece is joined
 * only after they are taken, so a slow reader holds that budget of written bytes plus the
 * row texts not yet written (for rankings mostly each server's kept text, see
 * ranking-rows.ts), not the answer twice over. A reader that keeps up gets the answer in
 * one turn of the event loop, as before; one that takes nothing for
 * {@link STALL_TIMEOUT_MS} loses its connection.
 */
import type { Response } from 'express';

/** Array items per piece: a piece of rankings rows is about 35 KiB. */
const ITEMS_PER_PIECE = 100;

/** Bytes of an answer that may wait in the server for its reader before writing pauses. */
export const BUFFER_BUDGET = 512 * 1024;

/** How long a reader may take nothing of an answer being sent before its connection is closed. */
export const STALL_TIMEOUT_MS = 30_000;

/**
 * Answers 200 with `{...head, [key]: [...]}`, the array's items given as JSON text by
 * `toJson` and written {@link ITEMS_PER_PIECE} at a time (chunked transfer encoding).
 * Every item's text is made at once, before anything is written (`toJson` may read live
 * state: the answer is one moment's); joining and writing wait for a slow client. Resolves
 * when the answer is written or the client has gone.
 */
export async function sendJsonWithArray<T>(
  res: Response, head: Record<string, unknown>, key: string, items: readonly T[], toJson: (item: T, index: number) => string,
  options: { stallTimeoutMs?: number } = {},
): Promise<void> {
  const texts: (string | undefined)[] = items.map((item, i) => toJson(item, i));
  const opening = JSON.stringify(head);
  res.status(200).type('application/json');
  // Inactivity of the connection while this answer is out, waiting or not (each write the
  // client takes restarts it); when the answer is done the server's keep-alive timeout
  // takes over the socket's timer.
  const stallMs = options.stallTimeoutMs ?? STALL_TIMEOUT_MS;
  res.setTimeout(stallMs, () => res.destroy());
  // Once the answer is out, the connection's timer is the server's again (a server with a
  // keep-alive timeout has set it by now; without one, it is off).
  const socket = res.socket; // detached from the response by the time it finishes
  res.once('finish', () => {
    // Not when a pipelined response has taken the connection (its timer is its own).
    const next = (socket as { _httpMessage?: unknown } | null)?._httpMessage;
    if (socket && socket.timeout === stallMs && next == null) socket.setTimeout(0);
  });
  res.write(`${opening.length > 2 ? `${opening.slice(0, -1)},` : '{'}${JSON.stringify(key)}:[`);
  for (let start = 0; start < texts.length; start += ITEMS_PER_PIECE) {
    if (res.destroyed) return;
    // Wait only when a write said so ('drain' then comes once all is taken).
    if (res.writableLength >= BUFFER_BUDGET && res.writableNeedDrain && !(await drained(res))) return;
    const end = Math.min(texts.length, start + ITEMS_PER_PIECE);
    const piece = texts.slice(start, end).join(',');
    texts.fill(undefined, start, end); // written: let the rows' texts go
    res.write(start === 0 ? piece : `,${piece}`);
  }
  res.end(']}');
}

/** Waits until `res` can take more: true on 'drain', false when the connection is gone. */
function drained(res: Response): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (open: boolean) => () => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(open);
    };
    const onDrain = done(true);
    const onClose = done(false);
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}
