// `npm start` (all in one), `npm run start:api`, `npm run start:worker`.
import path from 'node:path';
import { ConfigError, loadConfig } from './config.js';
import { startImflow, type ImflowOptions } from './imflow.js';
import { logger } from './logger.js';

const mode = (process.argv[2] ?? 'all') as ImflowOptions['mode'];
if (!['all', 'api', 'worker'].includes(mode)) {
  console.error(`unknown mode "${mode}": use all, api or worker`);
  process.exit(2);
}

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`${name} must be a port number, got "${raw}"`);
  return n;
}

async function main() {
  const { config, file } = loadConfig();
  const imflow = await startImflow({
    mode,
    config,
    dataDir: path.resolve(process.env.IMFLOW_DATA_DIR || './data'),
    port: intEnv('PORT', 3000),
    adminToken: process.env.ADMIN_TOKEN || undefined,
    secretKey: process.env.IMFLOW_SECRET_KEY || undefined,
    databaseUrl: process.env.DATABASE_URL || undefined,
    redisUrl: process.env.REDIS_URL || undefined,
    temporalAddress: process.env.TEMPORAL_ADDRESS || undefined,
    temporalNamespace: process.env.TEMPORAL_NAMESPACE || undefined,
    temporalPort: intEnv('IMFLOW_TEMPORAL_PORT', 7233),
    temporalUiPort: intEnv('IMFLOW_TEMPORAL_UI_PORT', 8233),
  });

  const lines = [
    `imflow is running (${mode}) — config: ${file ?? 'none (defaults)'}; database: ${imflow.db.kind}; cache: ${imflow.kv.kind}`,
    imflow.url && `  console:     ${imflow.url}/?token=${encodeURIComponent(imflow.adminToken)}`,
    imflow.url && `  admin API:   ${imflow.url}/api  (Authorization: Bearer <token above>)`,
    `  Temporal:    ${imflow.temporalAddress}${imflow.temporalUiUrl ? `   UI: ${imflow.temporalUiUrl}` : ''}`,
  ].filter(Boolean);
  console.log(lines.join('\n'));

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping imflow…`);
    const force = setTimeout(() => process.exit(1), 30_000);
    force.unref();
    await imflow.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  console.error(`imflow cannot start: ${err instanceof Error ? err.message : String(err)}`);
  if (!(err instanceof ConfigError)) logger.debug({ err }, 'start-up failure');
  process.exit(1);
});
