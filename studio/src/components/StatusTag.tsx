import { Tag } from 'antd';
import { statusLabel } from '../i18n.js';
import { useConsole } from '../store.js';

const COLORS: Record<string, string> = { replied: 'green', ok: 'green', running: 'processing', ignored: 'default', skipped: 'default', failed: 'red' };

export function StatusTag({ status }: { status: string }) {
  const lang = useConsole((s) => s.lang);
  return <Tag color={COLORS[status] ?? 'default'}>{statusLabel(lang, status)}</Tag>;
}
