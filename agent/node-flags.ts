/**
 * Node/V8 flags the agent is started with in production (the release launcher
 * `bin/berth-agent`, hence the systemd unit). The agent idles between reports, so a
 * 1 MiB young generation and V8's lite mode (no optimising compiler) cut its memory by
 * about 17 MB at no measurable CPU cost (bench/RESULTS.md, agent footprint).
 * `BERTH_NODE_FLAGS` in the environment replaces them.
 */
export const AGENT_NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=1', '--lite-mode']);
