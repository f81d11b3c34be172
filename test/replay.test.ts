import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';

// Golden histories recorded by `npm run histories:record`. If workflow code changes in a way that
// replays differently, runs already in flight would break on upgrade: this test fails first.
// Histories of earlier releases stay in their own folders: runs started by an old release must still
// replay on the new code (patched() keeps them on their old path).
const dir = path.join(import.meta.dirname, 'histories');
const files = fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.json')).sort();

describe('committed workflow histories replay deterministically', () => {
  it('has histories of both workflows, including continue-as-new and failure paths', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'conversation-continued.json', 'message-replied.json', 'message-fallback.json', 'message-ignored.json', 'message-failed.json',
        'message-queued.json', 'message-pipeline.json', 'message-model-outage.json', '0.1-before-flow-control/message-replied.json', '0.2-before-pipelines/message-replied.json',
      ]),
    );
    const last = JSON.parse(fs.readFileSync(path.join(dir, 'conversation-continued.json'), 'utf8')).events.at(-1);
    expect(last.eventType).toMatch(/CONTINUED_AS_NEW|ContinuedAsNew/);
  });

  for (const file of files) {
    it(file, async () => {
      const history = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
      await Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history, file);
    });
  }
});
