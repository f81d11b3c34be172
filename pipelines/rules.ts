// Which published pipeline a message takes: each trigger's conditions against the message, highest
// priority first. Pure, so the studio can explain a match the same way the matchRule step decides it.
// Every answer carries a reason an analyst can read in the trace: what held, or which condition failed.
import type { PipelineGraph, TimeWindow, TriggerData } from './graph.js';

export interface MatchContext {
  text: string;
  channelId: string;
  chatType: 'group' | 'direct';
  mentioned: boolean;
  /** the sender's departments and roles (runtime/departments.ts) */
  departments: readonly string[];
  roles: readonly string[];
  /** when the message arrived */
  now: Date | number;
}

export interface TriggerOutcome {
  matched: boolean;
  reason: string;
}

const quoted = (xs: readonly string[]) => xs.map((x) => `"${x}"`).join(', ');
/** An empty list (a cleared select in the studio) is no condition, like an absent one. */
const given = (xs: readonly string[] | undefined): xs is readonly string[] => !!xs && xs.length > 0;

/** Whether every condition the trigger gives holds for the message (absent ones always hold). */
export function matchTrigger(t: TriggerData, ctx: MatchContext): TriggerOutcome {
  const held: string[] = [];
  const failed = (reason: string): TriggerOutcome => ({ matched: false, reason });
  // keywords ignore case, so "Refund" finds "refund"; Chinese has no case to ignore
  const text = ctx.text.toLowerCase();
  const inText = (k: string) => text.includes(k.toLowerCase());

  if (given(t.channels)) {
    if (!t.channels.includes(ctx.channelId)) return failed(`channels: "${ctx.channelId}" is not one of ${quoted(t.channels)}`);
    held.push(`channel "${ctx.channelId}"`);
  }
  if (t.chatType && t.chatType !== 'any') {
    if (t.chatType !== ctx.chatType) return failed(`chatType: a ${ctx.chatType} chat, not ${t.chatType}`);
    held.push(`${ctx.chatType} chat`);
  }
  if (t.mentioned) {
    if (!ctx.mentioned) return failed('mentioned: the bot was not @-mentioned');
    held.push('@-mentioned');
  }
  if (given(t.keywordsAny)) {
    const found = t.keywordsAny.filter(inText);
    if (!found.length) return failed(`keywordsAny: none of ${quoted(t.keywordsAny)} in the text`);
    held.push(`keywordsAny: ${quoted(found)} in the text`);
  }
  if (given(t.keywordsAll)) {
    const missing = t.keywordsAll.filter((k) => !inText(k));
    if (missing.length) return failed(`keywordsAll: ${quoted(missing)} not in the text`);
    held.push(`keywordsAll: ${quoted(t.keywordsAll)} in the text`);
  }
  if (t.regex) {
    let re: RegExp;
    try {
      re = new RegExp(t.regex, 'u');
    } catch (err) {
      return failed(`regex: /${t.regex}/ does not compile: ${(err as Error).message}`);
    }
    const m = re.exec(ctx.text);
    if (!m) return failed(`regex: /${t.regex}/ does not match the text`);
    held.push(`regex: /${t.regex}/ matched "${m[0].slice(0, 40)}"`);
  }
  if (given(t.departments)) {
    const inOne = t.departments.filter((d) => ctx.departments.includes(d));
    if (!inOne.length) return failed(`departments: the sender is in none of ${quoted(t.departments)} (the sender's: ${ctx.departments.length ? quoted(ctx.departments) : 'none'})`);
    held.push(`department ${quoted(inOne)}`);
  }
  if (given(t.roles)) {
    const holds = t.roles.filter((r) => ctx.roles.includes(r));
    if (!holds.length) return failed(`roles: the sender holds none of ${quoted(t.roles)} (the sender's: ${ctx.roles.length ? quoted(ctx.roles) : 'none'})`);
    held.push(`role ${quoted(holds)}`);
  }
  if (t.timeWindow) {
    const at = localTime(new Date(ctx.now), t.timeWindow.timeZone);
    const window = describeWindow(t.timeWindow);
    if (!inWindow(t.timeWindow, at)) return failed(`timeWindow: ${at.label} is outside ${window}`);
    held.push(`${at.label} within ${window}`);
  }
  return { matched: true, reason: held.length ? held.join('; ') : 'no conditions: every message' };
}

export interface Candidate {
  id: string;
  graph: PipelineGraph;
}

export interface PipelineReason extends TriggerOutcome {
  id: string;
}

/** The trigger's settings; a graph without a trigger never matches. */
function triggerOf(graph: PipelineGraph): TriggerData | undefined {
  const node = graph.nodes.find((n) => n.type === 'trigger');
  return node?.type === 'trigger' ? node.data : undefined;
}

/**
 * The first candidate whose trigger matches, in order of priority (highest first; equal priorities by
 * pipeline id, so the choice never depends on the order rows come back in), with the reason of every
 * candidate tried. Candidates after the chosen one are not tried: they could not have won.
 */
export function pickPipeline<C extends Candidate>(candidates: readonly C[], ctx: MatchContext): { chosen?: C; reasons: PipelineReason[] } {
  const ranked = candidates
    .map((c) => ({ c, trigger: triggerOf(c.graph) }))
    .sort((a, b) => (b.trigger?.priority ?? 0) - (a.trigger?.priority ?? 0) || (a.c.id < b.c.id ? -1 : a.c.id > b.c.id ? 1 : 0));
  const reasons: PipelineReason[] = [];
  for (const { c, trigger } of ranked) {
    const outcome = trigger ? matchTrigger(trigger, ctx) : { matched: false, reason: 'no trigger node' };
    reasons.push({ id: c.id, ...outcome });
    if (outcome.matched) return { chosen: c, reasons };
  }
  return { reasons };
}

// ---- time windows

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const formatters = new Map<string, Intl.DateTimeFormat>();

/** The weekday (1 = Monday … 7 = Sunday) and minute of the day at `now` in the time zone. */
export function localTime(now: Date, timeZone: string): { weekday: number; minutes: number; label: string } {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  const parts = Object.fromEntries(f.formatToParts(now).map((p) => [p.type, p.value]));
  const hour = Number(parts.hour) % 24;
  const minute = Number(parts.minute);
  const weekday = WEEKDAYS.indexOf(parts.weekday!) + 1;
  const hhmm = `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`;
  return { weekday, minutes: hour * 60 + minute, label: `${parts.weekday} ${hhmm} in ${timeZone}` };
}

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/**
 * start inclusive, end exclusive. A window past midnight (22:00–06:00) wraps, and its weekdays are the
 * days it opens on: a Friday 22:00–06:00 window still holds at 02:00 on Saturday.
 */
export function inWindow(w: TimeWindow, at: { weekday: number; minutes: number }): boolean {
  const start = minutesOf(w.start);
  const end = minutesOf(w.end);
  const onDay = (d: number) => !w.days?.length || w.days.includes(d);
  if (start < end) return at.minutes >= start && at.minutes < end && onDay(at.weekday);
  const yesterday = at.weekday === 1 ? 7 : at.weekday - 1;
  return (at.minutes >= start && onDay(at.weekday)) || (at.minutes < end && onDay(yesterday));
}

function describeWindow(w: TimeWindow): string {
  const days = w.days?.length ? `${[...w.days].sort().map((d) => WEEKDAYS[d - 1]).join(',')} ` : '';
  return `${days}${w.start}–${w.end}`;
}
