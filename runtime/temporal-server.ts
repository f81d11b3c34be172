// Runs `temporal server start-dev` (the pinned Temporal CLI) as a child of imflow, never leaving an orphan.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { delimiter, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Connection } from '@temporalio/client';
import { logger } from './logger.js';

export const PINNED_TEMPORAL_CLI_VERSION = '1.9.1';

export type SearchAttributeType = 'Keyword' | 'Text' | 'Int' | 'Double' | 'Bool' | 'Datetime' | 'KeywordList';

export interface DevServer {
  address: string;
  uiUrl?: string;
  /** pid of the `temporal` server process (also in <dataDir>/temporal.pid while running). */
  pid: number;
  stop(): Promise<void>;
}

export interface StartDevServerOptions {
  cliPath: string;
  /** SQLite db at <dataDir>/temporal.db, pid file at <dataDir>/temporal.pid. */
  dataDir: string;
  /** gRPC port, default 7233; 0 picks a free port. */
  port?: number;
  /** UI port, default 8233 (a free port when `port` is 0); 0 picks a free port. */
  uiPort?: number;
  headless?: boolean;
  searchAttributes: Record<string, SearchAttributeType>;
  /** Extra CLI args, e.g. ['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=50']. */
  extraArgs?: string[];
  /** Readiness timeout, default 60 s. */
  startTimeoutMs?: number;
}

const log = logger.child({ component: 'temporal-server' });
const HOST = '127.0.0.1';

// Dynamic config the gateway relies on (same set @temporalio/testing passes to its ephemeral server).
const DEFAULT_DYNAMIC_CONFIG = [
  'frontend.enableUpdateWorkflowExecution=true',
  'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true',
  'frontend.enableServerVersionCheck=false',
];

const isExecutable = (p: string): boolean => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** $TEMPORAL_CLI, then `temporal` on PATH, then <projectRoot>/.temporal/bin/temporal. */
export function findTemporalCli(projectRoot: string): string | undefined {
  const env = process.env.TEMPORAL_CLI;
  if (env) {
    if (isExecutable(env)) return resolve(env);
    log.warn({ TEMPORAL_CLI: env }, 'TEMPORAL_CLI is set but is not an executable file; ignoring it');
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, 'temporal'))) return join(dir, 'temporal');
  }
  const local = join(projectRoot, '.temporal', 'bin', 'temporal');
  return isExecutable(local) ? local : undefined;
}

/*
 * Watchdog: `sh -c WATCHDOG sh <parentPid> <cli> <args...>`.
 * - starts the server in the background and prints `IMFLOW_TEMPORAL_PID=<pid>` on stdout;
 * - a monitor subshell polls once a second whether imflow (parent pid) is still alive and still our
 *   parent (on Linux via /proc, which also catches a zombie parent or pid reuse) and whether the
 *   watchdog shell itself is alive; if not, it sends SIGTERM to the server and SIGKILL after 4 s;
 * - SIGTERM/SIGINT/SIGHUP to the watchdog are forwarded to the server; the watchdog exits (and reaps
 *   the server) as soon as the server exits.
 */
const WATCHDOG = `
P=$1; shift
"$@" </dev/null &
child=$!
echo "IMFLOW_TEMPORAL_PID=$child"
trap 'kill -TERM "$child" 2>/dev/null' TERM INT HUP
me=$$
(
  trap - TERM INT HUP
  alive() {
    kill -0 "$P" 2>/dev/null || return 1
    kill -0 "$me" 2>/dev/null || return 1
    if [ -r "/proc/$me/stat" ]; then
      read -r _ _ _ pp _ < "/proc/$me/stat" || return 0
      [ "$pp" = "$P" ] || return 1
    fi
    return 0
  }
  while alive && kill -0 "$child" 2>/dev/null; do sleep 1; done
  kill -TERM "$child" 2>/dev/null || exit 0
  n=0
  while kill -0 "$child" 2>/dev/null && [ "$n" -lt 16 ]; do sleep 0.25; n=$((n+1)); done
  kill -KILL "$child" 2>/dev/null
) </dev/null >/dev/null 2>&1 &
mon=$!
rc=0
while :; do
  wait "$child"; rc=$?
  kill -0 "$child" 2>/dev/null || break
done
kill "$mon" 2>/dev/null
exit "$rc"
`;

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', rej);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => res(false));
    srv.listen({ port, host: HOST, exclusive: true }, () => srv.close(() => res(true)));
  });
}

function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((res) => {
    const sock = tcpConnect({ port, host: HOST });
    const done = (ok: boolean) => {
      sock.destroy();
      res(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // A zombie (exited, not yet reaped) counts as gone. `pid (comm) S ...`
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (macOS): trust kill(0)
  }
}

function commandLine(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    /* not Linux, or gone */
  }
  try {
    return execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' }).trim().split(/\s+/);
  } catch {
    return undefined;
  }
}

async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!pidAlive(pid)) return true;
    await sleep(100);
  }
  return !pidAlive(pid);
}

/** Kill a server left behind by an earlier imflow run on the same data dir (only if it really is one). */
async function killStaleServer(pidFile: string, dbFile: string): Promise<void> {
  if (!existsSync(pidFile)) return;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
  if (Number.isInteger(pid) && pid > 0 && pidAlive(pid)) {
    const cmd = commandLine(pid) ?? [];
    const isOurs =
      cmd.some((a) => /(^|\/)temporal$/.test(a)) &&
      cmd.includes('server') &&
      cmd.includes('start-dev') &&
      cmd.some((a, i) => (a === '--db-filename' || a === '-f') && cmd[i + 1] === dbFile);
    if (isOurs) {
      log.warn({ serverPid: pid, pidFile }, 'stopping stale Temporal dev server from a previous imflow run');
      process.kill(pid, 'SIGTERM');
      if (!(await waitForExit(pid, 10_000))) {
        process.kill(pid, 'SIGKILL');
        if (!(await waitForExit(pid, 5_000))) throw new Error(`stale Temporal dev server (pid ${pid}) did not exit`);
      }
    } else {
      log.warn({ serverPid: pid, pidFile }, 'pid file points at a process that is not our Temporal dev server; leaving it alone');
    }
  }
  rmSync(pidFile, { force: true });
}

export async function startTemporalDevServer(opts: StartDevServerOptions): Promise<DevServer> {
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const dbFile = join(dataDir, 'temporal.db');
  const pidFile = join(dataDir, 'temporal.pid');
  if (!isExecutable(opts.cliPath)) throw new Error(`Temporal CLI not found or not executable: ${opts.cliPath}`);

  await killStaleServer(pidFile, dbFile);

  const requestedPort = opts.port ?? 7233;
  const port = requestedPort === 0 ? await freePort() : requestedPort;
  if (!(await portIsFree(port))) {
    throw new Error(
      `Cannot start the Temporal dev server: port ${port} on ${HOST} is already in use. ` +
        `Stop whatever is listening there, choose another port, or set TEMPORAL_ADDRESS=${HOST}:${port} to use an existing Temporal server.`,
    );
  }
  let uiPort: number | undefined;
  if (!opts.headless) {
    const requestedUi = opts.uiPort ?? (requestedPort === 0 ? 0 : 8233);
    uiPort = requestedUi === 0 ? await freePort() : requestedUi;
    if (!(await portIsFree(uiPort))) {
      throw new Error(`Cannot start the Temporal dev server: UI port ${uiPort} on ${HOST} is already in use (choose another UI port or run headless).`);
    }
  }

  const args = ['server', 'start-dev', '--ip', HOST, '--port', String(port)];
  if (uiPort === undefined) args.push('--headless');
  else args.push('--ui-port', String(uiPort), '--ui-disable-news-fetch');
  // WAL with synchronous=NORMAL: a commit survives a crash of any process (the dev server's or
  // imflow's), only an OS crash or power cut may lose the last moments; the default rollback journal
  // fsyncs several times per history write and made SQLite the embedded setup's bottleneck.
  args.push('--db-filename', dbFile, '--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal', '--log-level', 'warn');
  for (const [name, type] of Object.entries(opts.searchAttributes)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`invalid search attribute name: ${JSON.stringify(name)}`);
    args.push('--search-attribute', `${name}=${type}`);
  }
  for (const kv of DEFAULT_DYNAMIC_CONFIG) args.push('--dynamic-config-value', kv);
  args.push(...(opts.extraArgs ?? []));

  log.info({ cli: opts.cliPath, port, uiPort, dbFile }, 'starting Temporal dev server');
  const child: ChildProcess = spawn('sh', ['-c', WATCHDOG, 'sh', String(process.pid), opts.cliPath, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  let stopping: Promise<void> | undefined;
  const tail: string[] = [];
  const remember = (line: string) => {
    tail.push(line);
    if (tail.length > 30) tail.shift();
  };
  let serverPid: number | undefined;
  let resolvePid!: (pid: number) => void;
  const pidKnown = new Promise<number>((r) => (resolvePid = r));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const m = /^IMFLOW_TEMPORAL_PID=(\d+)$/.exec(line);
    if (m && serverPid === undefined) {
      serverPid = Number(m[1]);
      resolvePid(serverPid);
      return;
    }
    remember(line);
    log.debug({ stream: 'stdout' }, line);
  });
  createInterface({ input: child.stderr! }).on('line', (line) => {
    remember(line);
    // The dev server logs routine retries (cancelled polls, "Fail to process task … context canceled")
    // at WARN: only its ERROR lines are ours to surface, and none once stop() has begun.
    if (/level=(ERROR|FATAL)|^panic/i.test(line) && !stopping) log.warn({ stream: 'stderr' }, line);
    else log.debug({ stream: 'stderr' }, line);
  });

  let exited = false;
  let exitInfo = '';
  const exitPromise = new Promise<void>((r) => {
    child.once('exit', (code, signal) => {
      exited = true;
      exitInfo = signal ? `signal ${signal}` : `exit code ${code}`;
      r();
    });
    child.once('error', (err) => {
      exited = true;
      exitInfo = `spawn error: ${err.message}`;
      r();
    });
  });

  // Last-resort cleanup if imflow exits normally without calling stop().
  const onExit = () => {
    if (serverPid !== undefined) {
      try {
        process.kill(serverPid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
  };
  process.on('exit', onExit);

  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      process.off('exit', onExit);
      const pid = serverPid;
      if (!exited) {
        if (pid !== undefined && pidAlive(pid)) process.kill(pid, 'SIGTERM');
        else child.kill('SIGTERM');
        const timedOut = await Promise.race([exitPromise.then(() => false), sleep(10_000).then(() => true)]);
        if (timedOut) {
          log.warn({ serverPid: pid }, 'Temporal dev server did not stop within 10 s; sending SIGKILL');
          if (pid !== undefined && pidAlive(pid)) process.kill(pid, 'SIGKILL');
          child.kill('SIGKILL');
          await Promise.race([exitPromise, sleep(5_000)]);
        }
      }
      // The watchdog reaps the server before exiting; make sure it is really gone.
      if (pid !== undefined && pidAlive(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
        await waitForExit(pid, 5_000);
      }
      rmSync(pidFile, { force: true });
      log.info({ serverPid: pid }, 'Temporal dev server stopped');
    })());

  const address = `${HOST}:${port}`;
  const fail = async (why: string): Promise<never> => {
    await stop();
    const last = tail.slice(-15).join('\n');
    throw new Error(`Temporal dev server (${opts.cliPath}) ${why}.${last ? `\nLast server output:\n${last}` : ''}`);
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  const pid = await Promise.race([pidKnown, exitPromise.then(() => undefined), sleep(10_000).then(() => undefined)]);
  if (pid === undefined) return fail(exited ? `exited during startup (${exitInfo})` : 'watchdog did not report the server pid');
  writeFileSync(pidFile, `${pid}\n`);

  for (;;) {
    if (exited) return fail(`exited during startup (${exitInfo})`);
    if (Date.now() > deadline) return fail(`did not become ready on ${address} within ${(opts.startTimeoutMs ?? 60_000) / 1000} s`);
    if (await tcpAccepts(port)) {
      try {
        const conn = await Connection.connect({ address, connectTimeout: 2_000 });
        try {
          await conn.withDeadline(Date.now() + 5_000, () => conn.workflowService.getSystemInfo({}));
        } finally {
          await conn.close();
        }
        break;
      } catch (err) {
        log.debug({ err }, 'Temporal dev server not ready yet');
      }
    }
    await sleep(250);
  }

  const uiUrl = uiPort === undefined ? undefined : `http://${HOST}:${uiPort}`;
  log.info({ address, uiUrl, serverPid: pid }, 'Temporal dev server ready');
  return { address, uiUrl, pid, stop };
}
