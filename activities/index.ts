import { makeAnnounceHandoff } from './announce-handoff.js';
import { makeAudit } from './audit.js';
import { makeCallModel } from './call-model.js';
import { makeCallTool } from './call-tool.js';
import type { ActivityDeps } from './deps.js';
import { makeAcquireSlot, makeReleaseSlot } from './flow-control.js';
import { makeLoadSession } from './load-session.js';
import { makeMatchRule } from './match-rule.js';
import { makeReply } from './reply.js';
import { makeRetrieve } from './retrieve.js';
import { makeSaveSession } from './save-session.js';
import { makeVerify } from './verify.js';

/** Every activity the `message` workflow runs, bound to the worker's dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    verify: makeVerify(deps),
    loadSession: makeLoadSession(deps),
    matchRule: makeMatchRule(deps),
    retrieve: makeRetrieve(deps),
    acquireSlot: makeAcquireSlot(deps),
    releaseSlot: makeReleaseSlot(deps),
    callModel: makeCallModel(deps),
    callTool: makeCallTool(deps),
    reply: makeReply(deps),
    announceHandoff: makeAnnounceHandoff(deps),
    saveSession: makeSaveSession(deps),
    audit: makeAudit(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
