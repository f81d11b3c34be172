import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../runtime/imflow.js';
import { findTemporalCli, startTemporalDevServer } from '../../runtime/temporal-server.js';
import { SEARCH_ATTRIBUTES } from '../../workflows/names.js';

/** A headless Temporal dev server on a free port in a fresh temp dir, with imflow's search attributes. */
export async function startTestTemporal(prefix: string, extraArgs: string[]) {
  const cli = findTemporalCli(projectRoot);
  if (!cli) throw new Error('no Temporal CLI: run `npm install` (installs .temporal/) or set TEMPORAL_CLI');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const server = await startTemporalDevServer({ cliPath: cli, dataDir: dir, port: 0, headless: true, searchAttributes: SEARCH_ATTRIBUTES, extraArgs });
  return { cli, dir, server };
}
