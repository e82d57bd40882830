/**
 * V8 settings for the controller, applied when this module is first imported (the
 * entry point imports it before anything else, so before the heap fills).
 *
 * Allocation-site pretenuring off: V8 starts allocating an allocation site's objects
 * straight into the old generation once enough of them survive a scavenge. A
 * rankings answer builds thousands of objects in one go; caught by a scavenge midway they
 * count as survivors, their sites get pretenured, and from then on every answer's
 * short-lived objects land in the old generation, which only a full collection empties.
 * Measured in bench/agent-ingest.ts (5,000 agents, rankings polled back to back): the
 * heap climbed to 150+ MB between full collections and the controller's RSS peaked at
 * 271-310 MB (target 300); without pretenuring the heap stays under ~100 MB and RSS peaked
 * at 233 MB, with the same CPU.
 */
import { setFlagsFromString } from 'node:v8';

/** The V8 flags the controller sets on itself. */
export const CONTROLLER_V8_FLAGS = ['--no-allocation-site-pretenuring'] as const;

for (const flag of CONTROLLER_V8_FLAGS) setFlagsFromString(flag);
