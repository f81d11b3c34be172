// The console: Ant Design in the chosen language, the login until someone is logged in, then the shell.
import { App as AntApp, ConfigProvider, Spin } from 'antd';
import type { Locale } from 'antd/es/locale/index.js';
import enUSModule from 'antd/es/locale/en_US.js';
import zhCNModule from 'antd/es/locale/zh_CN.js';
import dayjs from 'dayjs';
import 'dayjs/locale/zh-cn.js';
import { useEffect } from 'react';
import { api } from './api.js';
import { Login } from './Login.js';
import { Shell } from './Shell.js';
import { useConsole, type Me } from './store.js';

// antd ships its locales as CommonJS: TypeScript (NodeNext) sees the module object, Vite hands over the
// default export. Accept both, so types and bundle agree.
const unwrap = (m: Locale | { default: Locale }): Locale => ('default' in m ? m.default : m);
const zhCN = unwrap(zhCNModule);
const enUS = unwrap(enUSModule);

/**
 * `?token=…` (the link `npm start` prints) becomes a session once, then leaves the address bar so it
 * does not linger in history or get copied along with a link.
 */
function takeTokenFromUrl(): string | undefined {
  const url = new URL(window.location.href);
  const token = url.searchParams.get('token')?.trim();
  if (!url.searchParams.has('token')) return undefined;
  url.searchParams.delete('token');
  window.history.replaceState(null, '', url.pathname + url.search + url.hash);
  return token || undefined;
}

let session: Promise<Me | null> | undefined;
/** Asked once per page load, however often the effect runs (React runs effects twice in development). */
function firstSession(): Promise<Me | null> {
  const token = session ? undefined : takeTokenFromUrl();
  session ??= (token ? api<Me>('POST', '/login', { token }) : api<Me>('GET', '/me')).catch(() => null);
  return session;
}

export function App() {
  const me = useConsole((s) => s.me);
  const lang = useConsole((s) => s.lang);
  const setMe = useConsole((s) => s.setMe);

  useEffect(() => {
    void firstSession().then(setMe);
  }, [setMe]);

  useEffect(() => {
    dayjs.locale(lang === 'zh-CN' ? 'zh-cn' : 'en');
  }, [lang]);

  return (
    <ConfigProvider locale={lang === 'zh-CN' ? zhCN : enUS} theme={{ token: { colorPrimary: '#2563eb', borderRadius: 8 } }}>
      <AntApp>
        {me === undefined ? <Spin size="large" className="page-loading" /> : me ? <Shell /> : <Login />}
      </AntApp>
    </ConfigProvider>
  );
}
