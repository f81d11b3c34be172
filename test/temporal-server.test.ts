import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Connection } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { findTemporalCli, startTemporalDevServer } from '../runtime/temporal-server.js';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const cli = findTemporalCli(root);
if (!cli) {
  console.warn(
    'temporal-server.test.ts: SKIPPED — no Temporal CLI found (set TEMPORAL_CLI, put `temporal` on PATH, ' +
      'or run `node scripts/install-temporal.mjs` to install it into .temporal/).',
  );
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !alive(pid);
}

// proto enum temporal.api.enums.v1.IndexedValueType
const INDEXED_VALUE_TYPE_KEYWORD = 2;
const INDEXED_VALUE_TYPE_INT = 3;

describe.skipIf(!cli)('temporal dev server (real CLI)', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'imflow-temporal-'));
    dirs.push(d);
    return d;
  };
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('starts on a free port, registers search attributes, and stops without leaving a process', async () => {
    const dataDir = tempDir();
    const server = await startTemporalDevServer({
      cliPath: cli!,
      dataDir,
      port: 0,
      headless: true,
      searchAttributes: { ImflowTestConversationId: 'Keyword', ImflowTestTurn: 'Int' },
    });
    const pid = server.pid;
    try {
      expect(server.address).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(server.uiUrl).toBeUndefined();
      expect(readFileSync(join(dataDir, 'temporal.pid'), 'utf8').trim()).toBe(String(pid));
      expect(alive(pid)).toBe(true);

      const connection = await Connection.connect({ address: server.address });
      try {
        const res = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
        expect(res.customAttributes?.ImflowTestConversationId).toBe(INDEXED_VALUE_TYPE_KEYWORD);
        expect(res.customAttributes?.ImflowTestTurn).toBe(INDEXED_VALUE_TYPE_INT);
      } finally {
        await connection.close();
      }
    } finally {
      await server.stop();
    }
    expect(() => process.kill(pid, 0)).toThrow();
    expect(existsSync(join(dataDir, 'temporal.pid'))).toBe(false);
    expect(existsSync(join(dataDir, 'temporal.db'))).toBe(true);
  }, 30_000);

  it('does not leave an orphan server when the parent process is SIGKILLed', async () => {
    const dataDir = tempDir();
    const fixture = join(root, 'test', 'fixtures', 'temporal-orphan-parent.ts');
    const parent = spawn(process.execPath, ['--import', 'tsx', fixture, cli!, dataDir], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'warn' },
    });
    let stderr = '';
    parent.stderr.on('data', (d) => (stderr += String(d)));
    const serverPid = await new Promise<number>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`fixture did not report readiness in 30 s; stderr:\n${stderr}`)), 30_000);
      parent.once('exit', (code) => {
        clearTimeout(timer);
        rej(new Error(`fixture exited early (code ${code}); stderr:\n${stderr}`));
      });
      createInterface({ input: parent.stdout }).on('line', (line) => {
        try {
          const msg = JSON.parse(line) as { ready?: boolean; pid?: number };
          if (msg.ready && msg.pid) {
            clearTimeout(timer);
            res(msg.pid);
          }
        } catch {
          /* not ours */
        }
      });
    });
    try {
      expect(alive(serverPid)).toBe(true);
      parent.kill('SIGKILL');
      // Watchdog polls once a second, then SIGTERM (SIGKILL after 4 s).
      expect(await waitGone(serverPid, 6_000)).toBe(true);
    } finally {
      if (alive(serverPid)) process.kill(serverPid, 'SIGKILL');
    }
  }, 40_000);
});
