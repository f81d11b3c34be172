import { useCallback, useEffect, useState } from 'react';

/** zh-CN first; English for everyone whose browser does not ask for Chinese. */
export type Lang = 'zh-CN' | 'en';

export const LANGS: readonly Lang[] = ['zh-CN', 'en'];

const en = {
  tagline: 'A self-hosted LLM colleague for DingTalk, Feishu/Lark and WeCom chats — every message a durable Temporal workflow.',
  'lang.switch': '中文',
  'lang.switchTitle': 'Switch language',
  'nav.temporal': 'Temporal UI',

  'health.title': 'Service health',
  'health.refresh': 'Refresh',
  'health.checking': 'Checking…',
  'health.ok': 'Ready',
  'health.unavailable': 'Unavailable',
  'health.unreachable': 'Health check unreachable',
  'health.unreachableDetail': 'Could not read /healthz ({reason}). Is the imflow API running?',
  'health.checkedAt': 'Checked at {time}',
  'health.db': 'Postgres',
  'health.temporal': 'Temporal',
  'health.redis': 'Redis',
  'health.badge.ok': 'ok',
  'health.badge.down': 'down',
  'health.badge.unknown': 'unknown',
  'health.redisNote': 'Redis is optional: sessions fall back to Postgres while it is away.',

  'token.title': 'Admin token',
  'token.missing': 'No admin token yet. Paste the ADMIN_TOKEN of this deployment, or open this page with ?token=… once.',
  'token.placeholder': 'Paste the admin token',
  'token.save': 'Use token',
  'token.current': 'Using token {masked} (kept for this tab only).',
  'token.forget': 'Forget',

  'sandbox.title': 'Sandbox',
  'sandbox.hint': 'Send a message through the real conversation and message workflows as a dry run: nothing is posted to any chat platform.',
  'sandbox.placeholder': 'Type a message, e.g. “What can you do?”',
  'sandbox.send': 'Send',
  'sandbox.sending': 'Waiting for the reply…',
  'sandbox.sendingShort': 'Sending…',
  'sandbox.shortcut': 'Ctrl/⌘ + Enter to send',
  'sandbox.needToken': 'Set an admin token above to use the sandbox.',
  'sandbox.error': 'Request failed ({status}): {message}',
  'sandbox.networkError': 'Could not reach the API: {message}',
  'sandbox.badToken': 'The admin token was refused — paste the right one above.',
  'sandbox.reply': 'Reply',
  'sandbox.noReply': 'No reply for this message.',
  'sandbox.running': 'Still running after the wait; look it up in the Temporal UI as {workflowId}.',
  'sandbox.model': 'Model',
  'sandbox.workflow': 'Workflow',
  'sandbox.status': 'Status',
  'sandbox.trace': 'Trace',
  'sandbox.noTrace': 'No trace steps recorded.',
  'trace.step': 'Step',
  'trace.status': 'Status',
  'trace.duration': 'Duration',
  'trace.error': 'Error',

  'status.replied': 'replied',
  'status.ignored': 'ignored',
  'status.failed': 'failed',
  'status.running': 'running',
  'status.ok': 'ok',
  'status.skipped': 'skipped',

  footer: 'imflow · placeholder console — the flow studio and the full console come next.',
} as const;

export type MessageKey = keyof typeof en;

const zhCN: Record<MessageKey, string> = {
  tagline: '自托管的大模型同事，接入钉钉、飞书和企业微信群聊——每条消息都是一个可靠的 Temporal 工作流。',
  'lang.switch': 'English',
  'lang.switchTitle': '切换语言',
  'nav.temporal': 'Temporal 控制台',

  'health.title': '服务状态',
  'health.refresh': '刷新',
  'health.checking': '检查中…',
  'health.ok': '就绪',
  'health.unavailable': '不可用',
  'health.unreachable': '无法获取健康状态',
  'health.unreachableDetail': '读取 /healthz 失败（{reason}）。imflow API 是否在运行？',
  'health.checkedAt': '检查于 {time}',
  'health.db': 'Postgres',
  'health.temporal': 'Temporal',
  'health.redis': 'Redis',
  'health.badge.ok': '正常',
  'health.badge.down': '故障',
  'health.badge.unknown': '未知',
  'health.redisNote': 'Redis 为可选项：不可用时会话数据回退到 Postgres。',

  'token.title': '管理令牌',
  'token.missing': '尚未设置管理令牌。请粘贴本部署的 ADMIN_TOKEN，或用 ?token=… 打开一次本页面。',
  'token.placeholder': '粘贴管理令牌',
  'token.save': '使用令牌',
  'token.current': '正在使用令牌 {masked}（仅保存在当前标签页）。',
  'token.forget': '清除',

  'sandbox.title': '沙盒',
  'sandbox.hint': '让消息以演练模式走完真实的会话与消息工作流：不会向任何聊天平台发送内容。',
  'sandbox.placeholder': '输入一条消息，例如“你能做什么？”',
  'sandbox.send': '发送',
  'sandbox.sending': '等待回复中…',
  'sandbox.sendingShort': '发送中…',
  'sandbox.shortcut': 'Ctrl/⌘ + Enter 发送',
  'sandbox.needToken': '请先在上方设置管理令牌再使用沙盒。',
  'sandbox.error': '请求失败（{status}）：{message}',
  'sandbox.networkError': '无法连接 API：{message}',
  'sandbox.badToken': '管理令牌被拒绝，请在上方粘贴正确的令牌。',
  'sandbox.reply': '回复',
  'sandbox.noReply': '这条消息没有回复。',
  'sandbox.running': '等待超时，工作流仍在运行；可在 Temporal 控制台中查看 {workflowId}。',
  'sandbox.model': '模型',
  'sandbox.workflow': '工作流',
  'sandbox.status': '状态',
  'sandbox.trace': '执行轨迹',
  'sandbox.noTrace': '没有记录执行步骤。',
  'trace.step': '步骤',
  'trace.status': '状态',
  'trace.duration': '耗时',
  'trace.error': '错误',

  'status.replied': '已回复',
  'status.ignored': '已忽略',
  'status.failed': '失败',
  'status.running': '运行中',
  'status.ok': '成功',
  'status.skipped': '跳过',

  footer: 'imflow · 临时控制台——流程编排工作室与完整控制台即将推出。',
};

const messages: Record<Lang, Record<MessageKey, string>> = { 'zh-CN': zhCN, en };

const STORAGE_KEY = 'imflow.lang';

function isLang(value: unknown): value is Lang {
  return typeof value === 'string' && (LANGS as readonly string[]).includes(value);
}

/** The stored choice if there is one, else the browser's: zh-CN for any "zh…", English otherwise. */
export function initialLang(): Lang {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    if (isLang(stored)) return stored;
  } catch {
    // storage blocked: fall through to the browser's language
  }
  const browser = (typeof navigator !== 'undefined' && (navigator.languages?.[0] ?? navigator.language)) || '';
  return browser.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
}

export function isMessageKey(key: string): key is MessageKey {
  return Object.hasOwn(en, key);
}

export type Translate = (key: MessageKey, params?: Record<string, string | number>) => string;

/** `{name}` placeholders are filled from params; an unknown placeholder is left as written. */
export function translate(lang: Lang, key: MessageKey, params?: Record<string, string | number>): string {
  const text = messages[lang][key];
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

/** The current language, a translator for it, and a toggle that remembers the choice in localStorage. */
export function useI18n(): { lang: Lang; t: Translate; toggle: () => void } {
  const [lang, setLang] = useState<Lang>(initialLang);

  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);

  const t = useCallback<Translate>((key, params) => translate(lang, key, params), [lang]);
  const toggle = useCallback(() => {
    const next: Lang = lang === 'zh-CN' ? 'en' : 'zh-CN';
    try {
      localStorage.setItem(STORAGE_KEY, next);
    } catch {
      // not remembered; the toggle still works for this page
    }
    setLang(next);
  }, [lang]);
  return { lang, t, toggle };
}
