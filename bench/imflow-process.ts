// imflow as a child process with the embedded defaults (as `npm start` runs it), and its memory.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, progress, sleep } from './stats.js';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The child's output is kept only as a bounded tail, for the error message if it fails. */
const MAX_OUTPUT = 64 * 1024;

export interface ImflowProcess {
  url: string;
  adminToken: string;
  pid: number;
  /** the spawned Temporal dev server, unless TEMPORAL_ADDRESS points elsewhere */
  temporalPid?: number;
  database: string;
  cache: string;
  dataDir: string;
  cpuProfDir?: string;
  output(): string;
  stop(): Promise<void>;
}

export async function spawnImflow(o: { config: unknown; cpuProf: boolean; keep: boolean }): Promise<ImflowProcess> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imflow-bench-'));
  const configFile = path.join(dataDir, 'imflow.config.json');
  fs.writeFileSync(configFile, JSON.stringify(o.config));
  // DATABASE_URL, REDIS_URL, TEMPORAL_ADDRESS, LOG_LEVEL… pass through from the caller's environment:
  // unset, imflow uses its embedded defaults; set, the bench measures the real services.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    IMFLOW_CONFIG: configFile,
    IMFLOW_DATA_DIR: dataDir,
    PORT: '0',
    IMFLOW_TEMPORAL_PORT: '0',
    IMFLOW_TEMPORAL_UI_PORT: '0',
  };
  for (const k of ['ADMIN_TOKEN', 'IMFLOW_SECRET_KEY']) delete env[k]; // generated into the temp data dir
  const cpuProfDir = o.cpuProf ? path.join(dataDir, 'cpu-prof') : undefined;
  const nodeArgs = [...(cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : []), '--import', 'tsx', 'runtime/main.ts', 'all'];
  const child = spawn(process.execPath, nodeArgs, { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > MAX_OUTPUT) out = out.slice(-MAX_OUTPUT);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  // the bench dying must not leave imflow (and, through its watchdog, Temporal) behind
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);

  const deadline = Date.now() + 120_000;
  let m: RegExpMatchArray | null = null;
  while (!(m = out.match(/console: +(http:\/\/localhost:\d+)\/\?token=(\S+)/))) {
    if (child.exitCode !== null) throw new Error(`imflow exited with code ${child.exitCode} during start-up:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`imflow did not print its console URL within 120 s:\n${out}`);
    }
    await sleep(100);
  }
  const kinds = out.match(/database: (\w+); cache: (\w+)/);
  const pidFile = path.join(dataDir, 'temporal.pid');
  const temporalPid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8')) : undefined;
  const url = m[1]!.replace('localhost', '127.0.0.1'); // loopback only, and no IPv6 detour
  return {
    url,
    adminToken: decodeURIComponent(m[2]!),
    pid: child.pid!,
    temporalPid,
    database: kinds?.[1] ?? '?',
    cache: kinds?.[2] ?? '?',
    dataDir,
    cpuProfDir,
    output: () => out,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        // imflow forces its own exit after 30 s; --cpu-prof needs that orderly exit to write the profile
        await Promise.race([exited, sleep(40_000)]);
        if (child.exitCode === null && child.signalCode === null) {
          progress('imflow did not stop within 40 s: SIGKILL');
          child.kill('SIGKILL');
          await exited;
        }
      }
      process.off('exit', killOnExit);
      if (!o.keep && !cpuProfDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** VmRSS of a process in MB, from /proc (Linux); undefined when it is gone or /proc is not there. */
export function rssMb(pid: number): number | undefined {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (clock ticks of 1/100 s). */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // comm may contain spaces
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

export interface RssSampler {
  stop(): Record<string, { maxMb?: number; medianMb?: number; samples: number; cpuSeconds?: number }>;
}

/**
 * Samples the RSS of each named pid once a second until stopped: report max and median. Also the CPU
 * seconds each used meanwhile, which shows who saturates the cores.
 */
export function sampleRss(pids: Record<string, number | undefined>): RssSampler {
  const samples = new Map<string, number[]>(Object.keys(pids).map((k) => [k, []]));
  const cpuAtStart = new Map(Object.entries(pids).map(([k, pid]) => [k, pid ? cpuSeconds(pid) : undefined]));
  const tick = () => {
    for (const [name, pid] of Object.entries(pids)) {
      const mb = pid ? rssMb(pid) : undefined;
      if (mb !== undefined) samples.get(name)!.push(mb);
    }
  };
  tick();
  const timer = setInterval(tick, 1000);
  return {
    stop() {
      clearInterval(timer);
      return Object.fromEntries(
        [...samples].map(([name, s]) => {
          const pid = pids[name];
          const [before, after] = [cpuAtStart.get(name), pid ? cpuSeconds(pid) : undefined];
          return [
            name,
            {
              maxMb: s.length ? Math.round(Math.max(...s)) : undefined,
              medianMb: s.length ? Math.round(median(s)!) : undefined,
              samples: s.length,
              cpuSeconds: before !== undefined && after !== undefined ? Math.round((after - before) * 10) / 10 : undefined,
            },
          ];
        }),
      );
    },
  };
}
