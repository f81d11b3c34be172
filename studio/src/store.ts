// The console's shared state: who is logged in, the language, the page (path), and what the live event
// stream reports. Pages keep their own form and table state.
import { create } from 'zustand';
// what the server's event stream sends (type-only: nothing of the server is bundled)
import type { InFlightRun } from '../../api/events.js';
import { api, whenUnauthorized } from './api.js';
import { initialLang, rememberLang, translate, type Lang, type MessageKey } from './i18n.js';

export type Role = 'admin' | 'analyst' | 'viewer' | 'auditor';

export interface Me {
  user: { id: string; displayName: string | null } | null;
  role: Role;
  via: 'session' | 'bearer';
  csrfToken: string | null;
  /** per API area ("runs", "models", …): may this role read it, write it */
  can: Record<string, { read: boolean; write: boolean }>;
}

export type { InFlightRun };

export interface FinishedRun {
  workflowId: string;
  channelId: string;
  senderId: string;
  text: string;
  status: string;
  model: string | null;
  durationMs: number;
  finishedAt: string;
}

export interface ModelLive {
  model: string;
  breaker: string;
  calls: number;
  errors: number;
}

interface Live {
  connected: boolean;
  inFlight: Record<string, InFlightRun>;
  recent: FinishedRun[];
  models: ModelLive[];
  /** bumped on every finished run and audit row: pages that show aggregates refetch on it */
  version: number;
}

interface ConsoleState {
  /** undefined while finding out, null when nobody is logged in */
  me: Me | null | undefined;
  lang: Lang;
  path: string;
  live: Live;
  setMe(me: Me | null): void;
  toggleLang(): void;
  navigate(path: string): void;
  logout(): Promise<void>;
}

const RECENT = 30;

export const useConsole = create<ConsoleState>((set, get) => ({
  me: undefined,
  lang: initialLang(),
  path: window.location.pathname,
  live: { connected: false, inFlight: {}, recent: [], models: [], version: 0 },
  setMe(me) {
    set({ me });
    if (me) connectEvents();
    else disconnectEvents();
  },
  toggleLang() {
    const lang: Lang = get().lang === 'zh-CN' ? 'en' : 'zh-CN';
    rememberLang(lang);
    set({ lang });
  },
  navigate(path) {
    if (path === get().path) return;
    window.history.pushState(null, '', path);
    set({ path });
    window.scrollTo(0, 0);
  },
  async logout() {
    await api('POST', '/logout').catch(() => undefined);
    get().setMe(null);
  },
}));

window.addEventListener('popstate', () => useConsole.setState({ path: window.location.pathname }));
whenUnauthorized(() => useConsole.getState().setMe(null));
document.documentElement.lang = useConsole.getState().lang;

/** t() for the current language; components re-render when it changes. */
export function useT() {
  const lang = useConsole((s) => s.lang);
  return (key: MessageKey, params?: Record<string, string | number>) => translate(lang, key, params);
}

export const useCan = (area: string) => useConsole((s) => s.me?.can[area] ?? { read: false, write: false });

// ---------------------------------------------------------------------------------------------
// One event stream per console (EventSource reconnects by itself after a drop).

let source: EventSource | undefined;

function updateLive(fn: (live: Live) => Partial<Live>) {
  useConsole.setState((s) => ({ live: { ...s.live, ...fn(s.live) } }));
}

function connectEvents() {
  if (source) return;
  source = new EventSource('/api/events', { withCredentials: true });
  const on = <T>(event: string, fn: (data: T) => void) => source!.addEventListener(event, (e) => fn(JSON.parse((e as MessageEvent).data)));
  source.onopen = () => updateLive(() => ({ connected: true }));
  source.onerror = () => updateLive(() => ({ connected: false }));
  on<{ inFlight: InFlightRun[] }>('snapshot', ({ inFlight }) => updateLive(() => ({ inFlight: Object.fromEntries(inFlight.map((r) => [r.workflowId, r])) })));
  on<InFlightRun>('run.started', (run) => updateLive((l) => ({ inFlight: { ...l.inFlight, [run.workflowId]: run } })));
  on<{ workflowId: string; step: string }>('run.step', ({ workflowId, step }) =>
    updateLive((l) => (l.inFlight[workflowId] ? { inFlight: { ...l.inFlight, [workflowId]: { ...l.inFlight[workflowId]!, currentStep: step } } } : {})),
  );
  on<FinishedRun>('run.finished', (run) =>
    updateLive((l) => {
      const { [run.workflowId]: _done, ...inFlight } = l.inFlight;
      return { inFlight, recent: [run, ...l.recent.filter((r) => r.workflowId !== run.workflowId)].slice(0, RECENT), version: l.version + 1 };
    }),
  );
  on<{ workflowId: string }>('run.gone', ({ workflowId }) =>
    updateLive((l) => {
      const { [workflowId]: _gone, ...inFlight } = l.inFlight;
      return { inFlight, version: l.version + 1 };
    }),
  );
  on<{ models: ModelLive[] }>('model.health', ({ models }) => updateLive(() => ({ models })));
  on('audit', () => updateLive((l) => ({ version: l.version + 1 })));
}

function disconnectEvents() {
  source?.close();
  source = undefined;
  updateLive(() => ({ connected: false, inFlight: {}, recent: [] }));
}
