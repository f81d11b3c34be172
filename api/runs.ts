import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { Router } from 'express';
import type { Db } from '../runtime/db.js';
import type { RunState } from '../workflows/message.js';
import type { MessageResult, RunStatus, TraceStep } from '../workflows/types.js';
import { HttpError } from './http-errors.js';

export interface RunView {
  workflowId: string;
  status: RunStatus;
  currentStep?: string;
  reply: { text: string; model?: string } | null;
  trace: TraceStep[];
}

/** A finished run from Postgres; a live one from its workflow (query), so the console sees where it is now. */
export async function readRun(client: Client, db: Db, workflowId: string): Promise<RunView | undefined> {
  const { rows } = await db.query('SELECT status, reply_text, model, trace FROM runs WHERE workflow_id = $1', [workflowId]);
  const row = rows[0];
  if (row) return { workflowId, status: row.status, reply: row.reply_text ? { text: row.reply_text, model: row.model ?? undefined } : null, trace: row.trace };
  const handle = client.workflow.getHandle(workflowId);
  try {
    const desc = await handle.describe();
    if (desc.type !== 'message') return undefined;
    if (desc.status.name === 'RUNNING') {
      const state = await handle.query<RunState>('trace');
      return { workflowId, status: state.status, currentStep: state.currentStep, reply: state.reply ?? null, trace: state.trace };
    }
    if (desc.status.name === 'COMPLETED') {
      const r = (await handle.result()) as MessageResult;
      return { workflowId, status: r.status, reply: r.reply ?? null, trace: r.trace };
    }
    return { workflowId, status: 'failed', reply: null, trace: [] };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

export function runsRouter(deps: { client: Client; db: Db }): Router {
  const router = Router();
  router.get('/runs/:workflowId', async (req, res) => {
    const id = req.params.workflowId;
    if (!/^msg:.{1,900}$/.test(id)) throw new HttpError(400, 'workflowId must look like msg:<channelId>:<platformMessageId>');
    const run = await readRun(deps.client, deps.db, id);
    if (!run) throw new HttpError(404, `no run ${id}`);
    res.json(run);
  });
  return router;
}
