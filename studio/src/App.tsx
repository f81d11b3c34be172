import { useCallback, useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { isMessageKey, useI18n, type Translate } from './i18n.js';

// ---------------------------------------------------------------------------------------------
// Admin token: `?token=…` once, then sessionStorage (this tab only), never left in the address bar.

const TOKEN_KEY = 'imflow.adminToken';

function storeToken(token: string | null): void {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage blocked: the token lives in memory for this page only
  }
}

/**
 * The token from `?token=` if the page was opened with one (stored, then removed from the URL so it
 * does not linger in history or get copied along with the link), else the one kept for this tab.
 * Safe to call more than once.
 */
export function takeInitialToken(): string {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get('token')?.trim();
  if (url.searchParams.has('token')) {
    url.searchParams.delete('token');
    window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
  }
  if (fromUrl) {
    storeToken(fromUrl);
    return fromUrl;
  }
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

const maskToken = (token: string) => (token.length > 8 ? `••••${token.slice(-4)}` : '••••');

// ---------------------------------------------------------------------------------------------
// Health: GET /healthz → { status, checks: { db, temporal, redis } }, 200 when ready, 503 when not.

type CheckName = 'db' | 'temporal' | 'redis';
type CheckState = 'ok' | 'down' | 'unknown';
const CHECKS: readonly CheckName[] = ['db', 'temporal', 'redis'];

type Health =
  | { kind: 'loading' }
  | { kind: 'loaded'; ready: boolean; checks: Record<CheckName, CheckState>; at: Date }
  | { kind: 'error'; reason: string; at: Date };

const HEALTH_POLL_MS = 15_000;
const HEALTH_TIMEOUT_MS = 5_000;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

async function fetchHealth(): Promise<Health> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), HEALTH_TIMEOUT_MS);
  try {
    const res = await fetch('/healthz', { headers: { accept: 'application/json' }, cache: 'no-store', signal: controller.signal });
    const body: unknown = await res.json().catch(() => undefined);
    if (!isRecord(body) || !isRecord(body.checks)) {
      return { kind: 'error', reason: `HTTP ${res.status}${res.ok ? ', not JSON' : ''}`, at: new Date() };
    }
    const raw = body.checks;
    const checks = Object.fromEntries(
      CHECKS.map((name) => [name, raw[name] === 'ok' || raw[name] === 'down' ? raw[name] : 'unknown']),
    ) as Record<CheckName, CheckState>;
    return { kind: 'loaded', ready: body.status === 'ok', checks, at: new Date() };
  } catch (err) {
    const reason = controller.signal.aborted ? 'timeout' : err instanceof Error ? err.message : String(err);
    return { kind: 'error', reason, at: new Date() };
  } finally {
    clearTimeout(timer);
  }
}

function useHealth(): { health: Health; refreshing: boolean; refresh: () => void } {
  const [health, setHealth] = useState<Health>({ kind: 'loading' });
  const [refreshing, setRefreshing] = useState(false);
  const inFlight = useRef(false);

  const refresh = useCallback(() => {
    if (inFlight.current) return;
    inFlight.current = true;
    setRefreshing(true);
    void fetchHealth().then((h) => {
      inFlight.current = false;
      setRefreshing(false);
      setHealth(h);
    });
  }, []);

  useEffect(() => {
    refresh();
    const id = setInterval(() => {
      if (document.visibilityState === 'visible') refresh();
    }, HEALTH_POLL_MS);
    return () => clearInterval(id);
  }, [refresh]);

  return { health, refreshing, refresh };
}

// ---------------------------------------------------------------------------------------------
// Sandbox: POST /api/sandbox/messages { text } → { workflowId, status, reply, trace } or { error }.

interface TraceRow {
  step: string;
  status: string;
  durationMs: number;
  error?: string;
}

type SandboxResult =
  | { kind: 'ok'; workflowId: string; status: string; reply: { text: string; model?: string } | null; trace: TraceRow[] }
  /** httpStatus undefined: the request never got an answer (network down, API not running) */
  | { kind: 'error'; httpStatus?: number; message: string };

function parseTrace(value: unknown): TraceRow[] {
  if (!Array.isArray(value)) return [];
  return value.filter(isRecord).map((row) => ({
    step: String(row.step ?? '?'),
    status: String(row.status ?? '?'),
    durationMs: typeof row.durationMs === 'number' ? row.durationMs : NaN,
    ...(typeof row.error === 'string' && row.error ? { error: row.error } : {}),
  }));
}

async function sendSandboxMessage(text: string, token: string): Promise<SandboxResult> {
  let res: Response;
  try {
    res = await fetch('/api/sandbox/messages', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ text }),
    });
  } catch (err) {
    return { kind: 'error', message: err instanceof Error ? err.message : String(err) };
  }
  const body: unknown = await res.json().catch(() => undefined);
  if (!res.ok || !isRecord(body) || typeof body.workflowId !== 'string') {
    const message = isRecord(body) && typeof body.error === 'string' ? body.error : res.statusText || 'unexpected response';
    return { kind: 'error', httpStatus: res.status, message };
  }
  const reply = isRecord(body.reply) && typeof body.reply.text === 'string' ? body.reply : null;
  return {
    kind: 'ok',
    workflowId: body.workflowId,
    status: typeof body.status === 'string' ? body.status : 'failed',
    reply: reply ? { text: reply.text as string, ...(typeof reply.model === 'string' ? { model: reply.model } : {}) } : null,
    trace: parseTrace(body.trace),
  };
}

// ---------------------------------------------------------------------------------------------
// Pieces

const temporalUiUrl = () => `http://${window.location.hostname || '127.0.0.1'}:8233`;

function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** A translated status label when one exists, the raw value otherwise. */
function statusLabel(t: Translate, status: string): string {
  const key = `status.${status}`;
  return isMessageKey(key) ? t(key) : status;
}

const statusTone = (status: string) =>
  status === 'ok' || status === 'replied' ? 'ok' : status === 'failed' || status === 'down' ? 'bad' : status === 'running' ? 'warn' : 'muted';

// Inline icons: no icon font or emoji, so they look the same everywhere.
const KeyIcon = () => (
  <svg className="icon" viewBox="0 0 24 24" aria-hidden="true">
    <circle cx="8" cy="15" r="4" />
    <path d="M10.8 12.2 20 3M16 7l3 3M14 9l2 2" />
  </svg>
);

const GlobeIcon = () => (
  <svg className="icon" viewBox="0 0 24 24" aria-hidden="true">
    <circle cx="12" cy="12" r="9" />
    <path d="M3 12h18M12 3c2.5 2.6 3.8 5.6 3.8 9s-1.3 6.4-3.8 9c-2.5-2.6-3.8-5.6-3.8-9S9.5 5.6 12 3Z" />
  </svg>
);

function HealthCard({ t, lang }: { t: Translate; lang: string }) {
  const { health, refreshing, refresh } = useHealth();

  let summary: { tone: string; text: string };
  if (health.kind === 'loading') summary = { tone: 'muted', text: t('health.checking') };
  else if (health.kind === 'error') summary = { tone: 'bad', text: t('health.unreachable') };
  else summary = health.ready ? { tone: 'ok', text: t('health.ok') } : { tone: 'bad', text: t('health.unavailable') };

  const checks: Record<CheckName, CheckState> =
    health.kind === 'loaded' ? health.checks : { db: 'unknown', temporal: 'unknown', redis: 'unknown' };

  return (
    <section className="card" aria-labelledby="health-title">
      <header className="card-head">
        <h2 id="health-title">{t('health.title')}</h2>
        <span className={`pill pill-${summary.tone}`}>{summary.text}</span>
        <button type="button" className="btn btn-ghost" onClick={refresh} disabled={refreshing}>
          {refreshing ? t('health.checking') : t('health.refresh')}
        </button>
      </header>
      <ul className="badges">
        {CHECKS.map((name) => (
          <li key={name} className={`badge badge-${checks[name]}`}>
            <span className="dot" aria-hidden="true" />
            <span className="badge-name">{t(`health.${name}`)}</span>
            <span className="badge-state">{t(`health.badge.${checks[name]}`)}</span>
          </li>
        ))}
      </ul>
      {health.kind === 'error' && <p className="note note-bad">{t('health.unreachableDetail', { reason: health.reason })}</p>}
      {health.kind === 'loaded' && health.checks.redis === 'down' && <p className="note">{t('health.redisNote')}</p>}
      {health.kind !== 'loading' && (
        <p className="meta">{t('health.checkedAt', { time: health.at.toLocaleTimeString(lang) })}</p>
      )}
    </section>
  );
}

function TokenCard({ t, token, onChange }: { t: Translate; token: string; onChange: (token: string) => void }) {
  const [draft, setDraft] = useState('');

  if (token) {
    return (
      <section className="card card-compact" aria-labelledby="token-title">
        <h2 id="token-title" className="sr-only">
          {t('token.title')}
        </h2>
        <p className="token-line">
          <KeyIcon />
          <span>{t('token.current', { masked: maskToken(token) })}</span>
          <button type="button" className="btn btn-ghost" onClick={() => onChange('')}>
            {t('token.forget')}
          </button>
        </p>
      </section>
    );
  }

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const value = draft.trim();
    if (value) {
      onChange(value);
      setDraft('');
    }
  };

  return (
    <section className="card" aria-labelledby="token-title">
      <header className="card-head">
        <h2 id="token-title">{t('token.title')}</h2>
      </header>
      <p className="hint">{t('token.missing')}</p>
      <form className="token-form" onSubmit={submit}>
        <input
          type="password"
          className="input"
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          placeholder={t('token.placeholder')}
          aria-label={t('token.placeholder')}
          autoComplete="off"
          spellCheck={false}
        />
        <button type="submit" className="btn btn-primary" disabled={!draft.trim()}>
          {t('token.save')}
        </button>
      </form>
    </section>
  );
}

function TraceTable({ t, rows }: { t: Translate; rows: TraceRow[] }) {
  if (rows.length === 0) return <p className="meta">{t('sandbox.noTrace')}</p>;
  const withErrors = rows.some((r) => r.error);
  return (
    <div className="table-wrap">
      <table className="trace">
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">{t('trace.step')}</th>
            <th scope="col">{t('trace.status')}</th>
            <th scope="col" className="num">
              {t('trace.duration')}
            </th>
            {withErrors && <th scope="col">{t('trace.error')}</th>}
          </tr>
        </thead>
        <tbody>
          {rows.map((row, i) => (
            <tr key={i}>
              <td className="muted">{i + 1}</td>
              <td>
                <code>{row.step}</code>
              </td>
              <td>
                <span className={`pill pill-${statusTone(row.status)}`}>{statusLabel(t, row.status)}</span>
              </td>
              <td className="num">{formatDuration(row.durationMs)}</td>
              {withErrors && <td className="error-cell">{row.error ?? ''}</td>}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function SandboxCard({ t, token, onUnauthorized }: { t: Translate; token: string; onUnauthorized: () => void }) {
  const [text, setText] = useState('');
  const [pending, setPending] = useState(false);
  const [result, setResult] = useState<SandboxResult | null>(null);

  const canSend = Boolean(token) && text.trim().length > 0 && !pending;

  const send = async () => {
    if (!canSend) return;
    setPending(true);
    setResult(null);
    const r = await sendSandboxMessage(text.trim(), token);
    setPending(false);
    setResult(r);
    if (r.kind === 'error' && r.httpStatus === 401) onUnauthorized();
  };

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void send();
  };
  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      void send();
    }
  };

  return (
    <section className="card" aria-labelledby="sandbox-title">
      <header className="card-head">
        <h2 id="sandbox-title">{t('sandbox.title')}</h2>
      </header>
      <p className="hint">{t('sandbox.hint')}</p>
      <form className="sandbox-form" onSubmit={onSubmit}>
        <textarea
          className="input textarea"
          rows={4}
          value={text}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={onKeyDown}
          placeholder={t('sandbox.placeholder')}
          aria-label={t('sandbox.placeholder')}
          maxLength={16_000}
        />
        <div className="form-row">
          <span className="meta">{token ? t('sandbox.shortcut') : t('sandbox.needToken')}</span>
          <button type="submit" className="btn btn-primary" disabled={!canSend}>
            {pending ? t('sandbox.sendingShort') : t('sandbox.send')}
          </button>
        </div>
      </form>

      <div aria-live="polite">
        {pending && (
          <p className="meta pending">
            <span className="spinner" aria-hidden="true" /> {t('sandbox.sending')}
          </p>
        )}
        {result?.kind === 'error' && (
          <div className="note note-bad" role="alert">
            <p>
              {result.httpStatus === undefined
                ? t('sandbox.networkError', { message: result.message })
                : t('sandbox.error', { status: result.httpStatus, message: result.message })}
            </p>
            {result.httpStatus === 401 && <p>{t('sandbox.badToken')}</p>}
          </div>
        )}
        {result?.kind === 'ok' && (
          <div className="result">
            <dl className="result-meta">
              <div>
                <dt>{t('sandbox.status')}</dt>
                <dd>
                  <span className={`pill pill-${statusTone(result.status)}`}>{statusLabel(t, result.status)}</span>
                </dd>
              </div>
              {result.reply?.model && (
                <div>
                  <dt>{t('sandbox.model')}</dt>
                  <dd>
                    <code>{result.reply.model}</code>
                  </dd>
                </div>
              )}
              <div>
                <dt>{t('sandbox.workflow')}</dt>
                <dd>
                  <code className="wrap">{result.workflowId}</code>
                </dd>
              </div>
            </dl>
            <h3>{t('sandbox.reply')}</h3>
            {result.reply ? (
              <div className="reply">{result.reply.text}</div>
            ) : (
              <p className="meta">
                {result.status === 'running' ? t('sandbox.running', { workflowId: result.workflowId }) : t('sandbox.noReply')}
              </p>
            )}
            <h3>{t('sandbox.trace')}</h3>
            <TraceTable t={t} rows={result.trace} />
          </div>
        )}
      </div>
    </section>
  );
}

// ---------------------------------------------------------------------------------------------

export function App() {
  const { lang, t, toggle } = useI18n();
  const [token, setToken] = useState<string>(takeInitialToken);

  const changeToken = useCallback((next: string) => {
    storeToken(next || null);
    setToken(next);
  }, []);

  return (
    <div className="page">
      <header className="topbar">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            im
          </span>
          <div>
            <h1>imflow</h1>
            <p className="tagline">{t('tagline')}</p>
          </div>
        </div>
        <nav className="topnav">
          <a className="btn btn-ghost" href={temporalUiUrl()} target="_blank" rel="noopener noreferrer">
            {t('nav.temporal')} ↗
          </a>
          <button type="button" className="btn btn-ghost" onClick={toggle} title={t('lang.switchTitle')} lang={lang === 'zh-CN' ? 'en' : 'zh-CN'}>
            <GlobeIcon />
            {t('lang.switch')}
          </button>
        </nav>
      </header>

      <main className="content">
        <HealthCard t={t} lang={lang} />
        <TokenCard t={t} token={token} onChange={changeToken} />
        <SandboxCard t={t} token={token} onUnauthorized={() => changeToken('')} />
      </main>

      <footer className="footer">{t('footer')}</footer>
    </div>
  );
}
