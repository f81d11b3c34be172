// Trigger matching: each condition, time windows across midnight and time zones, and priority.
import { describe, expect, it } from 'vitest';
import type { PipelineGraph, TriggerData } from '../pipelines/graph.js';
import { matchTrigger, pickPipeline, type MatchContext } from '../pipelines/rules.js';

// 2026-03-02 is a Monday; 01:30 UTC is 09:30 in Shanghai (UTC+8, no DST)
const MONDAY_0930_SHANGHAI = Date.parse('2026-03-02T01:30:00Z');
const ctx = (over: Partial<MatchContext> = {}): MatchContext => ({
  text: '我要退款，订单号 20240521-8892',
  channelId: 'dt-support',
  chatType: 'group',
  mentioned: true,
  departments: ['customer'],
  roles: ['vip'],
  now: MONDAY_0930_SHANGHAI,
  ...over,
});
const match = (t: TriggerData, over: Partial<MatchContext> = {}) => matchTrigger(t, ctx(over));

describe('matchTrigger', () => {
  it('matches every message when it has no conditions (empty lists are no conditions)', () => {
    expect(match({})).toEqual({ matched: true, reason: 'no conditions: every message' });
    expect(match({ channels: [], keywordsAny: [], departments: [], roles: [], chatType: 'any', mentioned: false })).toMatchObject({ matched: true });
  });

  it('channels', () => {
    expect(match({ channels: ['dt-support', 'fs-sales'] })).toEqual({ matched: true, reason: 'channel "dt-support"' });
    expect(match({ channels: ['fs-sales'] })).toEqual({ matched: false, reason: 'channels: "dt-support" is not one of "fs-sales"' });
  });

  it('keywords: any, all, ignoring case', () => {
    expect(match({ keywordsAny: ['退货', '退款'] })).toEqual({ matched: true, reason: 'keywordsAny: "退款" in the text' });
    expect(match({ keywordsAny: ['退货', '退款'] }, { text: '发票多久能开？' })).toEqual({ matched: false, reason: 'keywordsAny: none of "退货", "退款" in the text' });
    expect(match({ keywordsAny: ['refund'] }, { text: 'REFUND please' }).matched).toBe(true);
    expect(match({ keywordsAll: ['退款', '订单号'] })).toEqual({ matched: true, reason: 'keywordsAll: "退款", "订单号" in the text' });
    expect(match({ keywordsAll: ['退款', '发票', '订单号'] })).toEqual({ matched: false, reason: 'keywordsAll: "发票" not in the text' });
  });

  it('regex', () => {
    expect(match({ regex: '\\d{8}-\\d{4}' })).toEqual({ matched: true, reason: 'regex: /\\d{8}-\\d{4}/ matched "20240521-8892"' });
    expect(match({ regex: '^发票' })).toEqual({ matched: false, reason: 'regex: /^发票/ does not match the text' });
    // flag "u": \p{…} classes work
    expect(match({ regex: '\\p{Script=Han}{2}' }).matched).toBe(true);
  });

  it('chat type and @-mention', () => {
    expect(match({ chatType: 'group' }).matched).toBe(true);
    expect(match({ chatType: 'direct' })).toEqual({ matched: false, reason: 'chatType: a group chat, not direct' });
    expect(match({ mentioned: true }).matched).toBe(true);
    expect(match({ mentioned: true }, { mentioned: false })).toEqual({ matched: false, reason: 'mentioned: the bot was not @-mentioned' });
  });

  it('sender department and role', () => {
    expect(match({ departments: ['customer', 'sales'] })).toEqual({ matched: true, reason: 'department "customer"' });
    expect(match({ departments: ['customer'] }, { departments: [] })).toEqual({
      matched: false,
      reason: `departments: the sender is in none of "customer" (the sender's: none)`,
    });
    expect(match({ departments: ['sales'] }).reason).toBe(`departments: the sender is in none of "sales" (the sender's: "customer")`);
    expect(match({ roles: ['vip', 'manager'] })).toEqual({ matched: true, reason: 'role "vip"' });
    expect(match({ roles: ['manager'] })).toEqual({ matched: false, reason: `roles: the sender holds none of "manager" (the sender's: "vip")` });
  });

  it("the seed's trigger: every condition must hold, and the reason names the first that failed", () => {
    const seed: TriggerData = { keywordsAny: ['退货', '退款'], departments: ['customer'] };
    expect(match(seed)).toEqual({ matched: true, reason: 'keywordsAny: "退款" in the text; department "customer"' });
    expect(match(seed, { departments: ['sales'] }).reason).toMatch(/^departments:/);
    expect(match(seed, { text: 'hi', departments: [] }).reason).toMatch(/^keywordsAny:/);
  });

  describe('time window', () => {
    const office = { start: '09:00', end: '18:00', timeZone: 'Asia/Shanghai' };
    const at = (iso: string) => ({ now: Date.parse(iso) });

    it('start inclusive, end exclusive, in the given time zone', () => {
      expect(match({ timeWindow: office })).toEqual({ matched: true, reason: 'Mon 09:30 in Asia/Shanghai within 09:00–18:00' });
      expect(match({ timeWindow: office }, at('2026-03-02T01:00:00Z')).matched).toBe(true); // 09:00
      expect(match({ timeWindow: office }, at('2026-03-02T00:59:00Z'))).toEqual({ matched: false, reason: 'timeWindow: Mon 08:59 in Asia/Shanghai is outside 09:00–18:00' });
      expect(match({ timeWindow: office }, at('2026-03-02T10:00:00Z')).matched).toBe(false); // 18:00
      // the same instant is 20:30 the evening before in New York
      expect(match({ timeWindow: { ...office, timeZone: 'America/New_York' } })).toEqual({
        matched: false,
        reason: 'timeWindow: Sun 20:30 in America/New_York is outside 09:00–18:00',
      });
    });

    it('follows daylight saving time', () => {
      const ny = { start: '09:00', end: '10:00', timeZone: 'America/New_York' };
      expect(match({ timeWindow: ny }, at('2026-01-15T14:30:00Z')).matched).toBe(true); // EST: 09:30
      expect(match({ timeWindow: ny }, at('2026-07-15T14:30:00Z')).matched).toBe(false); // EDT: 10:30
      expect(match({ timeWindow: ny }, at('2026-07-15T13:30:00Z')).matched).toBe(true); // EDT: 09:30
    });

    it('wraps past midnight', () => {
      const night = { start: '22:00', end: '06:00', timeZone: 'Asia/Shanghai' };
      expect(match({ timeWindow: night }, at('2026-03-02T14:00:00Z')).matched).toBe(true); // 22:00
      expect(match({ timeWindow: night }, at('2026-03-02T17:00:00Z')).matched).toBe(true); // 01:00
      expect(match({ timeWindow: night }, at('2026-03-02T21:59:00Z')).matched).toBe(true); // 05:59
      expect(match({ timeWindow: night }, at('2026-03-02T22:00:00Z')).matched).toBe(false); // 06:00
      expect(match({ timeWindow: night }, at('2026-03-02T13:59:00Z'))).toEqual({ matched: false, reason: 'timeWindow: Mon 21:59 in Asia/Shanghai is outside 22:00–06:00' });
    });

    it('weekdays: a window past midnight belongs to the day it opens', () => {
      const fridayNight = { days: [5], start: '22:00', end: '06:00', timeZone: 'Asia/Shanghai' };
      expect(match({ timeWindow: fridayNight }, at('2026-03-06T15:00:00Z')).matched).toBe(true); // Fri 23:00
      expect(match({ timeWindow: fridayNight }, at('2026-03-06T18:00:00Z')).matched).toBe(true); // Sat 02:00
      expect(match({ timeWindow: fridayNight }, at('2026-03-07T15:00:00Z'))).toEqual({ matched: false, reason: 'timeWindow: Sat 23:00 in Asia/Shanghai is outside Fri 22:00–06:00' });
      expect(match({ timeWindow: fridayNight }, at('2026-03-05T18:00:00Z')).matched).toBe(false); // Fri 02:00: Thursday's night
      const weekdays = { ...office, days: [1, 2, 3, 4, 5] };
      expect(match({ timeWindow: weekdays }).matched).toBe(true);
      expect(match({ timeWindow: weekdays }, at('2026-03-07T01:30:00Z')).reason).toBe('timeWindow: Sat 09:30 in Asia/Shanghai is outside Mon,Tue,Wed,Thu,Fri 09:00–18:00');
    });
  });
});

describe('pickPipeline', () => {
  const pipeline = (id: string, trigger: TriggerData): { id: string; graph: PipelineGraph } => ({
    id,
    graph: { nodes: [{ id: 'trigger', type: 'trigger', position: { x: 0, y: 0 }, data: trigger }], edges: [] },
  });

  it('takes the highest priority among those that match, and says why the ones tried first did not', () => {
    const candidates = [
      pipeline('refunds', { keywordsAny: ['退款'], priority: 1 }),
      pipeline('catch-all', {}),
      pipeline('invoices', { keywordsAny: ['发票'], priority: 10 }),
    ];
    const { chosen, reasons } = pickPipeline(candidates, ctx());
    expect(chosen?.id).toBe('refunds');
    expect(reasons).toEqual([
      { id: 'invoices', matched: false, reason: 'keywordsAny: none of "发票" in the text' },
      { id: 'refunds', matched: true, reason: 'keywordsAny: "退款" in the text' },
    ]);
    expect(pickPipeline(candidates, ctx({ text: '你好' })).chosen?.id).toBe('catch-all');
  });

  it('breaks ties by pipeline id, whatever order the candidates come in', () => {
    const a = pipeline('a-returns', { keywordsAny: ['退款'] });
    const b = pipeline('b-returns', { keywordsAny: ['退款'] });
    expect(pickPipeline([b, a], ctx()).chosen?.id).toBe('a-returns');
    expect(pickPipeline([a, b], ctx()).chosen?.id).toBe('a-returns');
  });

  it('chooses nothing when nothing matches, with every reason', () => {
    const { chosen, reasons } = pickPipeline([pipeline('sales', { departments: ['sales'] }), pipeline('night', { chatType: 'direct' })], ctx());
    expect(chosen).toBeUndefined();
    expect(reasons.map((r) => r.id)).toEqual(['night', 'sales']);
    expect(reasons.every((r) => !r.matched)).toBe(true);
    expect(pickPipeline([], ctx())).toEqual({ reasons: [] });
  });
});
