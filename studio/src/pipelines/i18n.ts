// The editor's own strings, zh-CN first. The language follows the console: it sets <html lang>, and the
// editor watches that attribute, so switching the language in the shell switches the editor too.
import { useCallback, useSyncExternalStore } from 'react';

export type Lang = 'zh-CN' | 'en';

const zhCN = {
  'list.hint': '每条流程由一个触发条件开始：消息满足条件时，按画布上的步骤处理并回复。已发布的流程按优先级匹配，都不匹配时由默认流程回答。',
  'list.new': '新建流程',
  'list.name': '名称',
  'list.status': '状态',
  'list.published': '已发布版本',
  'list.updated': '草稿更新于',
  'list.actions': '操作',
  'list.open': '编辑',
  'list.delete': '删除',
  'list.deleteConfirm': '删除流程“{name}”？已发布的版本也将停止匹配。',
  'list.empty': '还没有流程，点击“新建流程”开始。',
  'list.notPublished': '未发布',
  'list.enabled': '启用',
  'list.disabled': '停用',
  'list.invalid': '{count} 个问题',
  'create.title': '新建流程',
  'create.name': '流程名称',
  'create.namePlaceholder': '例如：售后退货退款',
  'create.description': '说明（可选）',
  'create.ok': '创建',

  'editor.back': '返回列表',
  'editor.save': '保存草稿',
  'editor.saved': '草稿已保存',
  'editor.unsaved': '有未保存的修改',
  'editor.undo': '撤销 (Ctrl+Z)',
  'editor.redo': '重做 (Ctrl+Shift+Z)',
  'editor.test': '试运行',
  'editor.publish': '发布',
  'editor.history': '版本历史',
  'editor.issues': '{count} 个问题待修正',
  'editor.noIssues': '检查通过',
  'editor.draft': '草稿',
  'editor.publishedVersion': '已发布 v{version}',
  'editor.loadFailed': '加载失败：{message}',
  'editor.leaveUnsaved': '有未保存的修改，确定离开？',

  'palette.title': '节点',
  'palette.hint': '拖到画布上，再从节点右侧的圆点连线到下一个节点。',
  'canvas.empty': '从左侧拖入一个“触发条件”节点开始',

  'panel.title': '节点设置',
  'panel.none': '选中画布上的节点以编辑其设置。',
  'panel.delete': '删除节点',
  'panel.templateHint': '可用变量：',
  'panel.advanced': '更多设置',
  'panel.addButton': '添加按钮',
  'panel.buttonLabel': '按钮文字',
  'panel.buttonUrl': '链接（可选，不填则把按钮文字作为消息发回）',
  'panel.addArgument': '添加参数',
  'panel.argumentName': '参数名',
  'panel.argumentValue': '值（可用变量）',
  'panel.window.start': '开始',
  'panel.window.end': '结束',
  'panel.window.add': '限定时间段',
  'panel.window.remove': '不限时间',
  'panel.tagsHint': '输入后按回车添加',

  'days.1': '周一',
  'days.2': '周二',
  'days.3': '周三',
  'days.4': '周四',
  'days.5': '周五',
  'days.6': '周六',
  'days.7': '周日',

  'test.title': '试运行',
  'test.hint': '先保存草稿，再用草稿处理这条消息（沙盒，不会发到任何聊天平台）。执行过的节点会在画布上高亮。',
  'test.message': '消息内容',
  'test.sender': '发送人 ID（可选）',
  'test.run': '保存并运行',
  'test.running': '运行中…',
  'test.reply': '回复',
  'test.noReply': '没有回复',
  'test.steps': '执行步骤',
  'test.clear': '清除高亮',
  'test.output': '输出',

  'publish.title': '发布流程',
  'publish.note': '发布说明',
  'publish.notePlaceholder': '这次改了什么？',
  'publish.ok': '发布',
  'publish.done': '已发布为 v{version}',
  'publish.failed': '无法发布：请先修正标红的节点',

  'versions.title': '版本历史',
  'versions.empty': '还没有发布过。',
  'versions.view': '查看',
  'versions.rollback': '回滚到此版本',
  'versions.rollbackConfirm': '把 v{version} 重新发布为最新版本？',
  'versions.rolledBack': '已回滚到 v{version}',
  'versions.viewing': '正在查看 v{version}（只读）',
  'versions.backToDraft': '回到草稿',
  'versions.current': '当前',

  'error.generic': '出错了：{message}',
  'error.unauthorized': '没有权限或登录已过期，请重新登录。',
} as const;

export type MessageKey = keyof typeof zhCN;

const en: Record<MessageKey, string> = {
  'list.hint':
    'Each pipeline starts with a trigger: a message that meets it is handled by the steps on the canvas. Published pipelines are matched by priority; the default pipeline answers the rest.',
  'list.new': 'New pipeline',
  'list.name': 'Name',
  'list.status': 'Status',
  'list.published': 'Published',
  'list.updated': 'Draft updated',
  'list.actions': 'Actions',
  'list.open': 'Edit',
  'list.delete': 'Delete',
  'list.deleteConfirm': 'Delete the pipeline “{name}”? Its published versions stop matching too.',
  'list.empty': 'No pipelines yet. Click “New pipeline” to start.',
  'list.notPublished': 'Not published',
  'list.enabled': 'Enabled',
  'list.disabled': 'Disabled',
  'list.invalid': 'Problems: {count}',
  'create.title': 'New pipeline',
  'create.name': 'Name',
  'create.namePlaceholder': 'e.g. After-sales returns and refunds',
  'create.description': 'Description (optional)',
  'create.ok': 'Create',

  'editor.back': 'Back to the list',
  'editor.save': 'Save draft',
  'editor.saved': 'Draft saved',
  'editor.unsaved': 'Unsaved changes',
  'editor.undo': 'Undo (Ctrl+Z)',
  'editor.redo': 'Redo (Ctrl+Shift+Z)',
  'editor.test': 'Test run',
  'editor.publish': 'Publish',
  'editor.history': 'Versions',
  'editor.issues': 'Problems to fix: {count}',
  'editor.noIssues': 'No problems',
  'editor.draft': 'Draft',
  'editor.publishedVersion': 'Published v{version}',
  'editor.loadFailed': 'Could not load: {message}',
  'editor.leaveUnsaved': 'There are unsaved changes. Leave anyway?',

  'palette.title': 'Nodes',
  'palette.hint': 'Drag onto the canvas, then draw a line from the dot on a node’s right to the next node.',
  'canvas.empty': 'Drag a “Trigger” node from the left to start',

  'panel.title': 'Node settings',
  'panel.none': 'Select a node on the canvas to edit its settings.',
  'panel.delete': 'Delete node',
  'panel.templateHint': 'Available: ',
  'panel.advanced': 'More settings',
  'panel.addButton': 'Add a button',
  'panel.buttonLabel': 'Button text',
  'panel.buttonUrl': 'Link (optional; without one the button sends its text back)',
  'panel.addArgument': 'Add an argument',
  'panel.argumentName': 'Argument',
  'panel.argumentValue': 'Value (may use variables)',
  'panel.window.start': 'From',
  'panel.window.end': 'Until',
  'panel.window.add': 'Only at certain times',
  'panel.window.remove': 'Any time',
  'panel.tagsHint': 'Type and press Enter to add',

  'days.1': 'Mon',
  'days.2': 'Tue',
  'days.3': 'Wed',
  'days.4': 'Thu',
  'days.5': 'Fri',
  'days.6': 'Sat',
  'days.7': 'Sun',

  'test.title': 'Test run',
  'test.hint': 'Saves the draft, then runs this message through it in the sandbox (nothing is sent to any chat platform). The nodes it went through light up on the canvas.',
  'test.message': 'Message',
  'test.sender': 'Sender id (optional)',
  'test.run': 'Save and run',
  'test.running': 'Running…',
  'test.reply': 'Reply',
  'test.noReply': 'No reply',
  'test.steps': 'Steps',
  'test.clear': 'Clear the highlight',
  'test.output': 'Output',

  'publish.title': 'Publish the pipeline',
  'publish.note': 'Release note',
  'publish.notePlaceholder': 'What changed?',
  'publish.ok': 'Publish',
  'publish.done': 'Published as v{version}',
  'publish.failed': 'Cannot publish: fix the nodes marked red first',

  'versions.title': 'Versions',
  'versions.empty': 'Never published yet.',
  'versions.view': 'View',
  'versions.rollback': 'Roll back to this',
  'versions.rollbackConfirm': 'Publish v{version} again as the latest version?',
  'versions.rolledBack': 'Rolled back to v{version}',
  'versions.viewing': 'Viewing v{version} (read only)',
  'versions.backToDraft': 'Back to the draft',
  'versions.current': 'current',

  'error.generic': 'Something went wrong: {message}',
  'error.unauthorized': 'Not allowed, or the login has expired. Please log in again.',
};

const messages: Record<Lang, Record<MessageKey, string>> = { 'zh-CN': zhCN, en };

/** The console's language as it set it on <html lang>; Chinese unless it says otherwise. */
function currentLang(): Lang {
  return document.documentElement.lang.toLowerCase().startsWith('en') ? 'en' : 'zh-CN';
}

function subscribe(onChange: () => void): () => void {
  const observer = new MutationObserver(onChange);
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ['lang'] });
  return () => observer.disconnect();
}

export const useLang = (): Lang => useSyncExternalStore(subscribe, currentLang);

export type Translate = (key: MessageKey, params?: Record<string, string | number>) => string;

export function useT(): Translate {
  const lang = useLang();
  return useCallback<Translate>(
    (key, params) => messages[lang][key].replace(/\{(\w+)\}/g, (whole, name: string) => (params && name in params ? String(params[name]) : whole)),
    [lang],
  );
}
