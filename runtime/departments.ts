import type { Db } from './db.js';

/** What the sender may see and do: their departments and roles (ids from /api/departments). */
export interface SenderProfile {
  departments: string[];
  roles: string[];
}

/** The sender's departments and roles. Filled in by the departments work (issue #6); empty until then. */
export async function senderProfile(_db: Db, _channelId: string, _senderId: string): Promise<SenderProfile> {
  return { departments: [], roles: [] };
}
