// The console's strings, zh-CN first. Each key holds [中文, English]. The language is kept in the store and
// mirrored on <html lang>, which the pipeline studio watches to follow along.
export type Lang = 'zh-CN' | 'en';

const strings = {
  'app.name': ['imflow 控制台', 'imflow console'],
  'lang.switch': ['English', '中文'],
  'nav.dashboard': ['仪表盘', 'Dashboard'],
  'nav.runs': ['运行记录', 'Runs'],
  'nav.models': ['模型', 'Models'],
  'nav.channels': ['渠道', 'Channels'],
  'nav.pipelines': ['流程编排', 'Pipelines'],
  'nav.sandbox': ['沙盒', 'Sandbox'],
  'nav.audit': ['审计日志', 'Audit log'],
  'nav.settings': ['设置', 'Settings'],
  'nav.temporal': ['Temporal 控制台', 'Temporal UI'],
  'user.logout': ['退出登录', 'Log out'],
  'user.adminToken': ['管理员令牌', 'admin token'],
  'role.admin': ['管理员', 'admin'],
  'role.analyst': ['分析师', 'analyst'],
  'role.viewer': ['只读', 'viewer'],
  'role.auditor': ['审计员', 'auditor'],

  'login.title': ['登录 imflow 控制台', 'Log in to the imflow console'],
  'login.username': ['用户名', 'User name'],
  'login.password': ['密码', 'Password'],
  'login.submit': ['登录', 'Log in'],
  'login.token': ['用管理员令牌登录', 'Log in with the admin token'],
  'login.tokenPlaceholder': ['粘贴 ADMIN_TOKEN', 'Paste the ADMIN_TOKEN'],
  'login.hint': ['启动时打印的控制台链接（/?token=…）会直接登录。', 'The console link printed at start (/?token=…) logs you in directly.'],
  'login.failed': ['登录失败：{message}', 'Login failed: {message}'],

  'common.refresh': ['刷新', 'Refresh'],
  'common.save': ['保存', 'Save'],
  'common.cancel': ['取消', 'Cancel'],
  'common.add': ['新增', 'Add'],
  'common.edit': ['编辑', 'Edit'],
  'common.delete': ['删除', 'Delete'],
  'common.confirmDelete': ['确定删除 {name}？', 'Delete {name}?'],
  'common.actions': ['操作', 'Actions'],
  'common.search': ['搜索', 'Search'],
  'common.reset': ['重置', 'Reset'],
  'common.none': ['无', 'none'],
  'common.saved': ['已保存', 'Saved'],
  'common.deleted': ['已删除', 'Deleted'],
  'common.error': ['请求失败（{status}）：{message}', 'Request failed ({status}): {message}'],
  'common.set': ['已设置', 'set'],
  'common.notSet': ['未设置', 'not set'],
  'common.keepSecret': ['已设置，留空则保持不变', 'set — leave empty to keep'],
  'common.total': ['共 {n} 条', '{n} in all'],
  'common.time': ['时间', 'Time'],
  'common.id': ['ID', 'ID'],
  'common.name': ['名称', 'Name'],
  'common.yes': ['是', 'yes'],
  'common.no': ['否', 'no'],
  'common.readOnly': ['你的角色只能查看此页。', 'Your role can only view this page.'],
  'common.copy': ['复制', 'Copy'],

  'status.running': ['运行中', 'running'],
  'status.replied': ['已回复', 'replied'],
  'status.ignored': ['已忽略', 'ignored'],
  'status.failed': ['失败', 'failed'],
  'status.ok': ['成功', 'ok'],
  'status.skipped': ['跳过', 'skipped'],

  'step.verify': ['校验', 'verify'],
  'step.loadSession': ['加载会话', 'load session'],
  'step.queue': ['排队', 'queue'],
  'step.matchRule': ['匹配规则', 'match rule'],
  'step.retrieve': ['知识检索', 'retrieve'],
  'step.callModel': ['调用模型', 'call model'],
  'step.callTool': ['调用工具', 'call tool'],
  'step.reply': ['回复', 'reply'],
  'step.saveSession': ['保存会话', 'save session'],
  'step.condition': ['条件', 'condition'],
  'step.handoff': ['转人工', 'handoff'],
  'step.audit': ['审计', 'audit'],

  'dash.inFlight': ['处理中的消息', 'Runs in flight'],
  'dash.conversations': ['活跃会话', 'Live conversations'],
  'dash.messagesHour': ['最近一小时消息', 'Messages, last hour'],
  'dash.errorRate': ['错误率', 'Error rate'],
  'dash.p95': ['P95 延迟', 'p95 latency'],
  'dash.perMinute': ['每分钟消息数（按渠道）', 'Messages per minute, per channel'],
  'dash.latencyChannel': ['端到端延迟（按渠道）', 'End-to-end latency per channel'],
  'dash.latencyModel': ['模型延迟与错误率（按模型）', 'Model latency and error rate per model'],
  'dash.recent': ['刚刚完成', 'Just finished'],
  'dash.currentStep': ['当前步骤', 'Current step'],
  'dash.startedAt': ['开始于', 'Started'],
  'dash.live': ['实时', 'live'],
  'dash.offline': ['实时连接断开，正在重连…', 'Live updates disconnected, reconnecting…'],
  'dash.nothingInFlight': ['当前没有正在处理的消息', 'Nothing in flight right now'],
  'dash.lastMessage': ['最近一条', 'Latest message'],
  'dash.messages': ['消息数', 'Messages'],

  'runs.channel': ['渠道', 'Channel'],
  'runs.sender': ['发送者', 'Sender'],
  'runs.conversation': ['会话', 'Conversation'],
  'runs.text': ['消息', 'Message'],
  'runs.reply': ['回复', 'Reply'],
  'runs.status': ['状态', 'Status'],
  'runs.model': ['模型', 'Model'],
  'runs.pipeline': ['流程', 'Pipeline'],
  'runs.duration': ['耗时', 'Duration'],
  'runs.received': ['收到时间', 'Received'],
  'runs.searchText': ['搜索消息或回复内容', 'Search message or reply text'],
  'runs.anyStatus': ['全部状态', 'Any status'],
  'runs.anyChannel': ['全部渠道', 'Any channel'],
  'runs.dryRun': ['沙盒', 'sandbox'],

  'run.back': ['返回运行记录', 'Back to runs'],
  'run.retry': ['从失败步骤重试', 'Retry from the failed step'],
  'run.retryConfirm': ['从「{step}」继续这次运行？之前完成的步骤不会重复执行。', 'Resume this run at "{step}"? Steps completed before it are not run again.'],
  'run.retried': ['已从 {step} 重新开始', 'Resumed at {step}'],
  'run.openTemporal': ['在 Temporal 中查看', 'Open in Temporal UI'],
  'run.noTemporalUrl': ['设置 IMFLOW_TEMPORAL_UI_URL 后可链接到 Temporal 控制台', 'Set IMFLOW_TEMPORAL_UI_URL to link to the Temporal UI'],
  'run.message': ['收到的消息', 'Message received'],
  'run.replyText': ['回复内容', 'Reply'],
  'run.noReply': ['没有回复', 'No reply'],
  'run.steps': ['执行步骤', 'Steps'],
  'run.raw': ['平台原始请求（已去除密钥）', 'Platform request as received (secrets removed)'],
  'run.noRaw': ['无原始请求（沙盒或未经过 webhook 的消息）', 'No platform request (sandbox, or not received by webhook)'],
  'run.modelCalls': ['模型调用', 'Model calls'],
  'run.audit': ['审计记录', 'Audit rows'],
  'run.input': ['输入', 'Input'],
  'run.output': ['输出', 'Output'],
  'run.modelInput': ['模型输入（完整）', 'Model input (complete)'],
  'run.error': ['错误', 'Error'],
  'run.attempts': ['尝试次数 {n}', '{n} attempt(s)'],
  'run.node': ['节点 {id}', 'node {id}'],
  'run.retrievalHits': ['检索命中', 'Retrieval hits'],
  'run.outcome': ['结果', 'Outcome'],
  'run.latency': ['延迟', 'Latency'],
  'run.tokens': ['Token（输入/输出）', 'Tokens (in/out)'],

  'models.providers': ['模型来源', 'Model providers'],
  'models.addProvider': ['新增模型来源', 'Add provider'],
  'models.editProvider': ['编辑模型来源 {id}', 'Edit provider {id}'],
  'models.baseUrl': ['接口地址 baseUrl', 'baseUrl'],
  'models.api': ['接口类型', 'API'],
  'models.apiKey': ['API Key', 'API key'],
  'models.models': ['模型', 'Models'],
  'models.modelId': ['模型 ID', 'Model id'],
  'models.modelName': ['显示名', 'Display name'],
  'models.contextWindow': ['上下文窗口', 'Context window'],
  'models.maxTokens': ['最大输出', 'Max tokens'],
  'models.reasoning': ['推理模型', 'Reasoning'],
  'models.addModel': ['添加模型', 'Add a model'],
  'models.defaults': ['默认模型与备用链', 'Default model and fallbacks'],
  'models.default': ['默认模型', 'Default'],
  'models.fallbacks': ['备用模型（按顺序）', 'Fallbacks (in order)'],
  'models.health': ['模型健康', 'Model health'],
  'models.window': ['统计窗口', 'Window'],
  'models.requests': ['请求数', 'Requests'],
  'models.ttft': ['首字延迟 P50', 'First token p50'],
  'models.tps': ['生成速度 tok/s', 'tokens/s'],
  'models.breaker': ['熔断器', 'Breaker'],
  'models.lastError': ['最近错误', 'Last error'],
  'models.latencyChart': ['延迟 P50 / P95（毫秒）', 'Latency p50 / p95 (ms)'],
  'models.errorChart': ['错误率', 'Error rate'],
  'breaker.closed': ['正常', 'closed'],
  'breaker.open': ['已熔断', 'open'],
  'breaker.half-open': ['试探中', 'half-open'],
  'breaker.unknown': ['未知', 'unknown'],

  'channels.title': ['渠道', 'Channels'],
  'channels.add': ['新增渠道', 'Add channel'],
  'channels.edit': ['编辑渠道 {id}', 'Edit channel {id}'],
  'channels.type': ['平台', 'Platform'],
  'channels.enabled': ['启用', 'Enabled'],
  'channels.callback': ['回调地址', 'Callback URL'],
  'channels.callbackUrl': ['回调地址（填入平台开发者后台）', 'Callback URL (paste into the platform console)'],
  'channels.respondTo': ['回复条件', 'Answer'],
  'channels.respondTo.mention': ['仅 @机器人 时', 'when @-mentioned'],
  'channels.respondTo.all': ['所有消息', 'every message'],
  'channels.groups': ['群聊', 'Group chats'],
  'channels.direct': ['单聊', 'Direct chats'],
  'channels.groupSession': ['群会话', 'Group session'],
  'channels.groupSession.shared': ['全群共享', 'shared by the group'],
  'channels.groupSession.sender': ['每人独立', 'one per sender'],
  'channels.ignored': ['被忽略的消息', 'Ignored messages'],
  'channels.reason': ['原因', 'Reason'],
  'channels.secrets': ['密钥', 'Secrets'],
  'channels.source': ['来源', 'Source'],
  'channels.sourceConfig': ['配置文件（重启时覆盖）', 'config file (rewritten at start)'],

  'sandbox.title': ['沙盒：像真实消息一样跑一遍，但不会发到任何平台', 'Sandbox: runs like a real message, sends nothing to any platform'],
  'sandbox.modeText': ['输入消息', 'Type a message'],
  'sandbox.modePayload': ['粘贴平台 JSON', 'Paste platform JSON'],
  'sandbox.text': ['消息内容', 'Message'],
  'sandbox.textPlaceholder': ['例如：发票多久能开出来？', 'e.g. How soon can I get the invoice?'],
  'sandbox.payload': ['平台原始消息 JSON（已解密）', 'Platform message JSON (decrypted)'],
  'sandbox.payloadType': ['按哪个平台解析', 'Parse as'],
  'sandbox.channel': ['渠道', 'Channel'],
  'sandbox.model': ['模型（可选）', 'Model (optional)'],
  'sandbox.pipeline': ['流程（可选）', 'Pipeline (optional)'],
  'sandbox.sender': ['发送者 ID（可选）', 'Sender id (optional)'],
  'sandbox.conversation': ['会话 ID（可选）', 'Conversation id (optional)'],
  'sandbox.run': ['运行', 'Run'],
  'sandbox.badJson': ['不是合法的 JSON', 'Not valid JSON'],
  'sandbox.result': ['结果', 'Result'],
  'sandbox.openRun': ['查看完整运行链路', 'Open the whole run'],
  'sandbox.stillRunning': ['仍在运行，可在运行记录中查看', 'Still running: see it under Runs'],

  'audit.verify': ['校验哈希链', 'Verify the hash chain'],
  'audit.ok': ['哈希链完整：{rows} 条记录均未被篡改', 'Chain intact: all {rows} rows check out'],
  'audit.broken': ['哈希链在第 {id} 条记录处断开（共 {rows} 条）：该记录或其前一条被修改或删除', 'Chain broken at row {id} (of {rows}): that row or the one before it was changed or removed'],
  'audit.export': ['导出 CSV', 'Export CSV'],
  'audit.actor': ['操作者', 'Actor'],
  'audit.action': ['动作', 'Action'],
  'audit.subject': ['对象', 'Subject'],
  'audit.detail': ['详情', 'Detail'],
  'audit.text': ['详情包含', 'Detail contains'],
  'audit.actionHint': ['动作，如 model. 或 message.failed', 'action, e.g. model. or message.failed'],

  'settings.users': ['用户', 'Users'],
  'settings.account': ['我的账号', 'My account'],
  'settings.departments': ['部门', 'Departments'],
  'settings.limits': ['限流、告警与熔断', 'Limits, alerts and breaker'],
  'settings.noSettingsApi': ['此版本尚不能在控制台修改限流、告警目标与熔断参数：请在配置文件中设置 models.limits、alerts、models.breaker 并重启。当前熔断状态见「模型」页。', 'Rate limits, alert targets and breaker settings cannot be changed from the console in this version: set models.limits, alerts and models.breaker in the config file and restart. Breaker states are on the Models page.'],
  'users.add': ['新增用户', 'Add user'],
  'users.id': ['用户名', 'User name'],
  'users.displayName': ['显示名', 'Display name'],
  'users.role': ['角色', 'Role'],
  'users.disabled': ['停用', 'Disabled'],
  'users.lastLogin': ['最近登录', 'Last login'],
  'users.password': ['密码（至少 10 位）', 'Password (10 characters or more)'],
  'users.newPassword': ['新密码（留空不改）', 'New password (empty: unchanged)'],
  'users.tokens': ['API 令牌', 'API tokens'],
  'users.tokenName': ['令牌用途', 'What it is for'],
  'users.createToken': ['创建令牌', 'Create token'],
  'users.tokenOnce': ['请立即复制此令牌，它只显示这一次：', 'Copy this token now; it is shown only once:'],
  'users.currentPassword': ['当前密码', 'Current password'],
  'users.changePassword': ['修改密码', 'Change password'],
  'users.adminTokenAccount': ['你正在使用管理员令牌登录：它没有密码和个人令牌。请创建用户账号供日常使用。', 'You are logged in with the admin token: it has no password or tokens of its own. Create user accounts for daily use.'],
  'users.roles': ['管理员：全部；分析师：流程、知识库、工具、沙盒、重试；只读：查看（联系方式脱敏）；审计员：查看全部并读取审计日志。', 'admin: everything; analyst: pipelines, knowledge bases, tools, sandbox, retries; viewer: reads (contacts masked); auditor: reads everything and the audit log.'],
  'departments.add': ['新增部门', 'Add department'],
  'departments.members': ['成员', 'Members'],
  'departments.knowledgeBases': ['知识库', 'Knowledge bases'],
  'departments.tools': ['工具', 'Tools'],
  'departments.pipelines': ['流程', 'Pipelines'],
  'departments.sender': ['发送者 ID', 'Sender id'],
  'departments.memberRole': ['角色', 'Role'],
  'departments.membersHint': ['每行一个：发送者ID[,渠道ID[,角色]]', 'One per line: senderId[,channelId[,role]]'],
  'departments.unavailable': ['部门接口（/api/departments）尚不可用。', 'The departments API (/api/departments) is not available yet.'],
} as const satisfies Record<string, readonly [string, string]>;

export type MessageKey = keyof typeof strings;

export function translate(lang: Lang, key: MessageKey, params?: Record<string, string | number>): string {
  const text: string = strings[key][lang === 'zh-CN' ? 0 : 1];
  return params ? text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole)) : text;
}

/** Step and status names come from the server; unknown ones are shown as they are. */
export function stepLabel(lang: Lang, step: string): string {
  const key = `step.${step}` as MessageKey;
  return key in strings ? translate(lang, key) : step;
}

export function statusLabel(lang: Lang, status: string): string {
  const key = `status.${status}` as MessageKey;
  return key in strings ? translate(lang, key) : status;
}

const LANG_KEY = 'imflow.lang';

/** The stored choice, else zh-CN unless the browser asks for something other than Chinese. */
export function initialLang(): Lang {
  try {
    const stored = localStorage.getItem(LANG_KEY);
    if (stored === 'zh-CN' || stored === 'en') return stored;
  } catch {
    // storage blocked
  }
  const browser = navigator.languages?.[0] ?? navigator.language ?? '';
  return browser && !browser.toLowerCase().startsWith('zh') ? 'en' : 'zh-CN';
}

export function rememberLang(lang: Lang) {
  try {
    localStorage.setItem(LANG_KEY, lang);
  } catch {
    // not remembered; the switch still works for this page
  }
  document.documentElement.lang = lang;
}
