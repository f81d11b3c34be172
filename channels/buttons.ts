import type { ReplyButton } from '../pipelines/graph.js';

/**
 * A reply node's buttons under the answer text. DingTalk markdown has real links: a URL button opens
 * its page, a label-only one is a `dtmd://…sendMessage` link that sends the label back into the chat
 * (so "转接人工客服" reaches the next rule like a typed message). Feishu and WeCom text messages get the
 * same as plain lines: the URL, or the words to send.
 */
export function withButtons(text: string, buttons: ReplyButton[] | undefined, style: 'dingtalk' | 'plain'): string {
  if (!buttons?.length) return text;
  const lines = buttons.map((b) => {
    if (style === 'dingtalk') return `[${b.label}](${b.url ?? `dtmd://dingtalkclient/sendMessage?content=${encodeURIComponent(b.label)}`})`;
    return b.url ? `${b.label}：${b.url}` : `【${b.label}】请回复「${b.label}」`;
  });
  return `${text}\n\n${lines.join('\n\n')}`;
}
