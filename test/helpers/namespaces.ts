// Each integration test file gets its own Temporal namespace on the shared dev server, so workflows left
// behind by one file never reach another file's worker.
export const TEST_NAMESPACES = ['it-flow', 'it-order', 'it-model', 'it-kill', 'it-redis', 'it-api', 'it-history', 'it-dingtalk', 'it-feishu', 'it-wecom', 'it-channels', 'it-limits', 'it-breaker', 'it-knowledge', 'it-tools', 'it-pipelines', 'it-departments', 'it-invoice', 'it-console-auth', 'it-console-audit', 'it-console-runs', 'it-console-e2e', 'it-pipeline-run', 'it-studio', 'it-settings'] as const;
export type TestNamespace = (typeof TEST_NAMESPACES)[number];
