/**
 * Node/V8 flags the agent is started with in production (the release launcher
 * `bin/berth-agent`, hence the systemd unit). `BERTH_NODE_FLAGS` in the environment
 * replaces them. Measured with bench/agent-footprint.ts (bench/RESULTS.md):
 * - `--max-semi-space-size=1 --lite-mode`: the agent idles between reports, so a 1 MiB
 *   young generation and V8's lite mode (no optimising compiler) cut about 17 MB at no
 *   measurable CPU cost.
 * - `--no-icu-timezone-data`: V8 takes the local time zone from the C library instead of
 *   ICU. The first `Date#toISOString()` (pino's timestamps, `sent_at`) otherwise pages in
 *   about 0.9 MB of ICU data from the node binary; the agent never formats local time.
 * - `--initial-old-space-size=5`: a first full GC while the agent loads instead of ~8 s
 *   later, which lowers the start-up peak by 0.5–1.4 MB (steady RSS +0.0–0.4 MB).
 * - `--gc-memory-reducer-start-delay-ms=1500`: V8's memory reducer (the GC that gives
 *   the heap's unused pages back once a process goes quiet) first runs 1.5 s after start
 *   instead of 8 s; the agent's RSS 3 s after start falls from about 49.3 to 47 MB. V8
 *   lists it among its experimental flags: should a later node refuse any of these
 *   flags, the launcher starts the agent without them (and says so) rather than not at
 *   all.
 * - `--no-expose-wasm`: the agent runs no WebAssembly, and lite mode would otherwise
 *   print "disabling flag --expose_wasm" to the journal at every start.
 */
export const AGENT_NODE_FLAGS: readonly string[] = Object.freeze([
  '--max-semi-space-size=1', '--lite-mode', '--no-icu-timezone-data', '--initial-old-space-size=5',
  '--gc-memory-reducer-start-delay-ms=1500', '--no-expose-wasm',
]);

/**
 * Environment the release launcher sets for the agent unless the service's environment
 * already does. `MALLOC_ARENA_MAX=1`: glibc's allocator keeps one arena instead of one
 * per thread that ever allocated (libuv's pool, V8's workers); about 0.2–0.4 MB less for
 * a process that is idle nearly all the time (bench/RESULTS.md). The launcher names what
 * it set in {@link LAUNCHER_ENV_VAR}, and the agent takes those out of its hooks'
 * environment: a session runner started by a hook keeps glibc's defaults.
 */
export const AGENT_MALLOC_ENV: Readonly<Record<string, string>> = Object.freeze({ MALLOC_ARENA_MAX: '1' });

/** Space-separated names of the variables the launcher set for the agent alone. */
export const LAUNCHER_ENV_VAR = 'BERTH_LAUNCHER_ENV';

/** What the launcher adds to an environment that sets none of {@link AGENT_MALLOC_ENV} (the benchmarks start the agent so). */
export const AGENT_LAUNCH_ENV: Readonly<Record<string, string>> = Object.freeze({
  ...AGENT_MALLOC_ENV, [LAUNCHER_ENV_VAR]: Object.keys(AGENT_MALLOC_ENV).join(' '),
});
