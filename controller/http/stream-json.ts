/**
 * Sends a JSON object whose last member is a long array, in pieces. A whole fleet's
 * rankings is megabytes of JSON: built as one string (and one buffer) it lands in V8's
 * large-object space on every call and drives full garbage collections, whose pauses
 * delay everything else on the event loop. Pieces of a few dozen KiB stay young and die
 * young.
 */
import type { Response } from 'express';

/** Array items per piece: a piece of rankings rows is about 35 KiB. */
const ITEMS_PER_PIECE = 100;

/**
 * Answers 200 with `{...head, [key]: [...]}`, the array's items given as JSON text by
 * `toJson` and written {@link ITEMS_PER_PIECE} at a time (chunked transfer encoding).
 */
export function sendJsonWithArray<T>(res: Response, head: Record<string, unknown>, key: string, items: readonly T[], toJson: (item: T, index: number) => string): void {
  const opening = JSON.stringify(head);
  res.status(200).type('application/json');
  res.write(`${opening.length > 2 ? `${opening.slice(0, -1)},` : '{'}${JSON.stringify(key)}:[`);
  for (let start = 0; start < items.length; start += ITEMS_PER_PIECE) {
    const end = Math.min(items.length, start + ITEMS_PER_PIECE);
    const piece: string[] = [];
    for (let i = start; i < end; i++) piece.push(toJson(items[i]!, i));
    res.write(start === 0 ? piece.join(',') : `,${piece.join(',')}`);
  }
  res.end(']}');
}
