import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { projectRoot } from '../../runtime/imflow.js';
import { workflowsPath } from '../../runtime/worker.js';
import { TEST_NAMESPACES } from './namespaces.js';
import { startTestTemporal } from './temporal.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundlePath: string;
  }
}

/** One Temporal dev server and one workflow bundle for the whole run (bundling per test is slow). */
export default async function setup(project: TestProject) {
  // continue-as-new every few messages, so every conversation test also crosses run boundaries
  const { dir, server } = await startTestTemporal('imflow-test-', [
    ...TEST_NAMESPACES.flatMap((ns) => ['--namespace', ns]),
    '--dynamic-config-value',
    'limit.historyCount.suggestContinueAsNew=60',
  ]);

  // the console is part of what `npm start` serves: build it as `npm start` would
  execFileSync(process.execPath, [path.join(projectRoot, 'scripts/build-studio.mjs')], { stdio: 'inherit' });
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: silentLogger });
  const bundlePath = path.join(dir, 'workflow-bundle.js');
  fs.writeFileSync(bundlePath, code);
  project.provide('temporalAddress', server.address);
  project.provide('workflowBundlePath', bundlePath);
  return async () => {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  };
}

const noop = () => {};
const silentLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };
