/**
 * Sends a JSON object whose last member is a long array, in pieces. A whole fleet's
 * rankings is megabytes of JSON: built as one string (and one buffer) it lands in V8's
 * large-object space on every call and drives full garbage collections, whose pauses
 * delay everything else on the event loop. Pieces of a few dozen KiB stay young and die
 * young.
 */
import type { Response } from 'express';

/** Array items stringified per piece; keeps a piece well under V8's 128 KiB large-object size. */
const ITEMS_PER_PIECE = 100;

/**
 * Answers 200 with `{...head, [key]: items.map(toItem)}`, the array written
 * {@link ITEMS_PER_PIECE} items at a time (chunked transfer encoding).
 */
export function sendJsonWithArray<T>(res: Response, head: Record<string, unknown>, key: string, items: readonly T[], toItem: (item: T, index: number) => unknown): void {
  const opening = JSON.stringify(head);
  res.status(200).type('application/json');
  res.write(`${opening.length > 2 ? `${opening.slice(0, -1)},` : '{'}${JSON.stringify(key)}:[`);
  for (let start = 0; start < items.length; start += ITEMS_PER_PIECE) {
    const end = Math.min(items.length, start + ITEMS_PER_PIECE);
    const piece: unknown[] = [];
    for (let i = start; i < end; i++) piece.push(toItem(items[i]!, i));
    // One stringify per piece (faster than one per item); drop its brackets.
    const text = JSON.stringify(piece);
    res.write(start === 0 ? text.slice(1, -1) : `,${text.slice(1, -1)}`);
  }
  res.end(']}');
}
