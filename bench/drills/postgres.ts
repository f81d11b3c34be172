// A throwaway Postgres cluster the drills may stop and start: Debian's initdb/pg_ctl in a temp dir on a
// free port, so a drill never touches the developer's database.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';

export interface OwnPostgres {
  url: string;
  stop(): void;
  start(): void;
  /** stops the server and removes the cluster */
  destroy(): void;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'pg_ctl'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error('no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (apt install postgresql), or set DATABASE_URL');
  return path.join(root, newest, 'bin');
}

export async function startOwnPostgres(): Promise<OwnPostgres> {
  const bin = binDir();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imflow-drill-pg-'));
  const data = path.join(dir, 'data');
  const port = await freePort();
  // initdb and postgres refuse to run as root: as root, run them as the postgres user of Debian's package
  const asRoot = process.getuid?.() === 0;
  if (asRoot) execFileSync('chown', ['postgres:postgres', dir]);
  const run = (cmd: string, args: string[]) =>
    execFileSync(asRoot ? 'runuser' : path.join(bin, cmd), asRoot ? ['-u', 'postgres', '--', path.join(bin, cmd), ...args] : args, {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  run('initdb', ['-D', data, '-U', 'imflow', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const start = () => void run('pg_ctl', ['start', '-w', '-D', data, '-l', path.join(dir, 'postgres.log'), '-o', opts]);
  // fast: disconnects every client at once, as a crash or a restart by the operator would
  const stop = () => void run('pg_ctl', ['stop', '-w', '-m', 'fast', '-D', data]);
  start();
  return {
    url: `postgres://imflow@127.0.0.1:${port}/postgres`,
    start,
    stop,
    destroy() {
      try {
        stop();
      } catch {
        /* already stopped */
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
