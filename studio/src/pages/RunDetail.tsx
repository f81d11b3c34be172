// One run's whole chain: the platform's request, each step with its duration, input and output (the
// model's full prompt included), the reply, model call attempts and audit rows; a link to the same run in
// the Temporal UI, and retry for a failed run. A live run refreshes when the event stream says it moved.
import { ArrowLeftOutlined, ExportOutlined, RedoOutlined } from '@ant-design/icons';
import { App, Alert, Button, Card, Col, Descriptions, Empty, Popconfirm, Row, Space, Spin, Table, Tag, Tooltip, Typography } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { api, ApiError, get } from '../api.js';
import { ms, time } from '../components/format.js';
import { Json } from '../components/Json.js';
import { StatusTag } from '../components/StatusTag.js';
import { Trace, type TraceStep } from '../components/Trace.js';
import { stepLabel } from '../i18n.js';
import { useCan, useConsole, useT } from '../store.js';

interface RunDetailView {
  workflowId: string;
  status: string;
  currentStep?: string;
  reply: { text: string; model?: string } | null;
  trace: TraceStep[];
  message: { channelId: string; conversationId: string; senderId: string; text: string; pipelineId?: string | null; dryRun?: boolean; receivedAt: string } | null;
  durationMs: number | null;
  rawRequest: { receivedAt: string; headers: Record<string, string>; body: unknown; truncated: boolean } | null;
  modelCalls: { at: string; model: string; attempt: number; outcome: string; error_type: string | null; error_message: string | null; prompt_tokens: number | null; completion_tokens: number | null; latency_ms: number; first_token_ms: number | null }[];
  audit: { id: number; at: string; actor: string; action: string; detail: unknown; hash: string }[];
  temporal: { namespace: string; runId: string | null; status: string; url: string | null };
  retry: { possible: boolean; from?: string; reason?: string };
}

const LIVE_FALLBACK_MS = 5000;

export function RunDetail({ workflowId }: { workflowId: string }) {
  const t = useT();
  const lang = useConsole((s) => s.lang);
  const navigate = useConsole((s) => s.navigate);
  const { message } = App.useApp();
  const canRetry = useCan('runs').write;
  const [run, setRun] = useState<RunDetailView>();
  const [error, setError] = useState<string>();
  const [retrying, setRetrying] = useState(false);
  // the stream's view of this run: its step while in flight, and whether it has finished
  const liveStep = useConsole((s) => s.live.inFlight[workflowId]?.currentStep);
  const finished = useConsole((s) => s.live.recent.find((r) => r.workflowId === workflowId)?.finishedAt);

  const load = useCallback(
    () =>
      get<RunDetailView>(`/runs/${encodeURIComponent(workflowId)}`).then(
        (r) => {
          setRun(r);
          setError(undefined);
        },
        (err: ApiError) => setError(err.message),
      ),
    [workflowId],
  );

  useEffect(() => {
    void load();
  }, [load, liveStep, finished]);
  // the event stream drives updates; this slow poll only covers a dropped stream while the run is live
  const live = run?.status === 'running';
  useEffect(() => {
    if (!live) return;
    const timer = setInterval(() => void load(), LIVE_FALLBACK_MS);
    return () => clearInterval(timer);
  }, [live, load]);

  const retry = async () => {
    setRetrying(true);
    try {
      const r = await api<{ from: string | null }>('POST', `/runs/${encodeURIComponent(workflowId)}/retry`);
      message.success(t('run.retried', { step: stepLabel(lang, r.from ?? '') }));
      await load();
    } catch (err) {
      message.error(err instanceof ApiError ? err.message : String(err));
    } finally {
      setRetrying(false);
    }
  };

  if (error) return <Alert type="error" title={error} showIcon action={<Button onClick={() => navigate('/runs')}>{t('run.back')}</Button>} />;
  if (!run) return <Spin className="page-loading" />;
  const m = run.message;

  return (
    <div className="page" data-testid="run-detail">
      <Space className="gap" wrap>
        <Button icon={<ArrowLeftOutlined />} onClick={() => navigate('/runs')}>
          {t('run.back')}
        </Button>
        <Typography.Text code copyable>
          {run.workflowId}
        </Typography.Text>
        <StatusTag status={run.status} />
        {run.currentStep && <Tag color="processing">{stepLabel(lang, run.currentStep)}</Tag>}
        {run.temporal.url ? (
          <Button icon={<ExportOutlined />} href={run.temporal.url} target="_blank" rel="noreferrer" data-testid="temporal-link">
            {t('run.openTemporal')}
          </Button>
        ) : (
          <Tooltip title={t('run.noTemporalUrl')}>
            <Button icon={<ExportOutlined />} disabled>
              {t('run.openTemporal')}
            </Button>
          </Tooltip>
        )}
        {canRetry && run.retry.possible && (
          <Popconfirm title={t('run.retryConfirm', { step: stepLabel(lang, run.retry.from ?? '') })} onConfirm={retry}>
            <Button type="primary" danger icon={<RedoOutlined />} loading={retrying} data-testid="retry">
              {t('run.retry')}
            </Button>
          </Popconfirm>
        )}
      </Space>

      <Row gutter={[16, 16]}>
        <Col xs={24} xl={10}>
          <Card size="small">
            <Descriptions
              size="small"
              column={1}
              items={[
                { key: 'channel', label: t('runs.channel'), children: <>{m?.channelId ?? '–'}{m?.dryRun && <Tag className="gap-left">{t('runs.dryRun')}</Tag>}</> },
                { key: 'conversation', label: t('runs.conversation'), children: m?.conversationId ?? '–' },
                { key: 'sender', label: t('runs.sender'), children: m?.senderId ?? '–' },
                { key: 'received', label: t('runs.received'), children: time(m?.receivedAt) },
                { key: 'duration', label: t('runs.duration'), children: ms(run.durationMs) },
                { key: 'model', label: t('runs.model'), children: run.reply?.model ?? '–' },
                { key: 'pipeline', label: t('runs.pipeline'), children: m?.pipelineId ?? '–' },
                { key: 'temporal', label: 'Temporal', children: `${run.temporal.namespace} · ${run.temporal.status}` },
              ]}
            />
          </Card>
          <Card size="small" title={t('run.message')} className="gap-top">
            <Typography.Paragraph className="message-text">{m?.text ?? '–'}</Typography.Paragraph>
          </Card>
          <Card size="small" title={t('run.replyText')} className="gap-top">
            {run.reply ? <Typography.Paragraph className="message-text" data-testid="reply">{run.reply.text}</Typography.Paragraph> : <Typography.Text type="secondary">{t('run.noReply')}</Typography.Text>}
          </Card>
          <Card size="small" title={t('run.raw')} className="gap-top">
            {run.rawRequest ? <Json value={run.rawRequest.body} /> : <Typography.Text type="secondary">{t('run.noRaw')}</Typography.Text>}
          </Card>
        </Col>
        <Col xs={24} xl={14}>
          <Card size="small" title={t('run.steps')}>
            <Trace trace={run.trace} currentStep={run.status === 'running' ? run.currentStep : undefined} />
          </Card>
          <Card size="small" title={t('run.modelCalls')} className="gap-top">
            {run.modelCalls.length ? (
              <Table
                size="small"
                pagination={false}
                rowKey={(r) => `${r.at}/${r.attempt}/${r.model}`}
                dataSource={run.modelCalls}
                columns={[
                  { title: t('common.time'), dataIndex: 'at', render: time, width: 170 },
                  { title: t('runs.model'), dataIndex: 'model' },
                  { title: '#', dataIndex: 'attempt', width: 40 },
                  { title: t('run.outcome'), dataIndex: 'outcome', render: (o: string, r) => <Tooltip title={r.error_message}><Tag color={o === 'ok' ? 'green' : 'red'}>{r.error_type ?? o}</Tag></Tooltip> },
                  { title: t('run.latency'), dataIndex: 'latency_ms', render: ms },
                  { title: t('run.tokens'), render: (_, r) => `${r.prompt_tokens ?? '–'} / ${r.completion_tokens ?? '–'}` },
                ]}
              />
            ) : (
              <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} />
            )}
          </Card>
          <Card size="small" title={t('run.audit')} className="gap-top">
            <Table
              size="small"
              pagination={false}
              rowKey="id"
              dataSource={run.audit}
              expandable={{ expandedRowRender: (r) => <Json value={r.detail} /> }}
              columns={[
                { title: '#', dataIndex: 'id', width: 70 },
                { title: t('common.time'), dataIndex: 'at', render: time, width: 170 },
                { title: t('audit.actor'), dataIndex: 'actor', ellipsis: true },
                { title: t('audit.action'), dataIndex: 'action' },
              ]}
            />
          </Card>
        </Col>
      </Row>
    </div>
  );
}
