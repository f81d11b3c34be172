// Imported first by run.ts, before anything loads runtime/logger.ts: stdout is for the drills' JSON lines,
// so the drills process's own logger (the Temporal dev server's start/stop lines) only speaks up for errors.
// imflow's processes keep the level the caller chose; their output is kept for a failed drill's report.
export const imflowLogLevel = process.env.LOG_LEVEL ?? 'info';
process.env.LOG_LEVEL ??= 'error';
