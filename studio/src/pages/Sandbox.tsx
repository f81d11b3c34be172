// Try a message without a chat: typed, or a platform's JSON pasted as it arrives; on any channel, with a
// chosen model or pipeline. It runs through the real workflows as a dry run and shows the trace.
import { Alert, Button, Card, Col, Form, Input, Row, Segmented, Select, Space, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { api, ApiError, get } from '../api.js';
import { StatusTag } from '../components/StatusTag.js';
import { Trace, type TraceStep } from '../components/Trace.js';
import { useConsole, useT } from '../store.js';

interface SandboxResult {
  workflowId: string;
  status: string;
  reply: { text: string; model?: string } | null;
  trace: TraceStep[];
}

interface SandboxForm {
  text?: string;
  payload?: string;
  channelType?: string;
  channelId?: string;
  model?: string;
  pipelineId?: string;
  senderId?: string;
  conversationId?: string;
}

export function Sandbox() {
  const t = useT();
  const navigate = useConsole((s) => s.navigate);
  const [mode, setMode] = useState<'text' | 'payload'>('text');
  const [channels, setChannels] = useState<{ id: string; type: string }[]>([]);
  const [models, setModels] = useState<string[]>([]);
  const [pipelines, setPipelines] = useState<{ id: string; name: string }[]>([]);
  const [result, setResult] = useState<SandboxResult>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    // the built-in sandbox channel is not stored with the others
    get<{ channels: { id: string; type: string }[] }>('/channels').then((r) => setChannels([{ id: 'sandbox', type: 'sandbox' }, ...r.channels.filter((c) => c.id !== 'sandbox')]), () => undefined);
    get<{ providers: Record<string, { models: { id: string }[] }> }>('/models').then(
      (r) => setModels(Object.entries(r.providers).flatMap(([id, p]) => p.models.map((m) => `${id}/${m.id}`))),
      () => undefined,
    );
    // the pipelines API may not be there yet: then the choice is simply not offered
    get<{ id: string; name: string }[]>('/pipelines').then(setPipelines, () => undefined);
  }, []);

  const run = async (f: SandboxForm) => {
    setError(undefined);
    setResult(undefined);
    let payload: unknown;
    if (mode === 'payload') {
      try {
        payload = JSON.parse(f.payload ?? '');
      } catch {
        setError(t('sandbox.badJson'));
        return;
      }
    }
    setBusy(true);
    try {
      const body = {
        ...(mode === 'text' ? { text: f.text } : { payload, channelType: f.channelType, ...(f.text && { text: f.text }) }),
        channelId: f.channelId,
        model: f.model,
        pipelineId: f.pipelineId,
        senderId: f.senderId || undefined,
        conversationId: f.conversationId || undefined,
      };
      setResult(await api<SandboxResult>('POST', '/sandbox/messages', body));
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="page">
      <Row gutter={[16, 16]}>
        <Col xs={24} xl={10}>
          <Card size="small" title={t('sandbox.title')}>
            <Segmented
              block
              className="gap"
              value={mode}
              onChange={(v) => setMode(v as 'text' | 'payload')}
              options={[
                { value: 'text', label: t('sandbox.modeText') },
                { value: 'payload', label: t('sandbox.modePayload') },
              ]}
            />
            <Form<SandboxForm> layout="vertical" onFinish={run} initialValues={{ channelId: 'sandbox', channelType: 'dingtalk' }}>
              {mode === 'payload' && (
                <>
                  <Form.Item name="payload" label={t('sandbox.payload')} rules={[{ required: true }]}>
                    <Input.TextArea rows={10} className="mono" placeholder='{"msgtype":"text","text":{"content":"发票多久能开出来？"}, …}' />
                  </Form.Item>
                  <Form.Item name="channelType" label={t('sandbox.payloadType')}>
                    <Select options={['dingtalk', 'feishu', 'wecom'].map((v) => ({ value: v, label: v }))} />
                  </Form.Item>
                </>
              )}
              <Form.Item name="text" label={t('sandbox.text')} rules={[{ required: mode === 'text' }]}>
                <Input.TextArea rows={mode === 'text' ? 4 : 2} placeholder={t('sandbox.textPlaceholder')} data-testid="sandbox-text" />
              </Form.Item>
              <Row gutter={12}>
                <Col span={12}>
                  <Form.Item name="channelId" label={t('sandbox.channel')}>
                    <Select options={channels.map((c) => ({ value: c.id, label: `${c.id} (${c.type})` }))} />
                  </Form.Item>
                </Col>
                <Col span={12}>
                  <Form.Item name="model" label={t('sandbox.model')}>
                    <Select allowClear options={models.map((m) => ({ value: m, label: m }))} />
                  </Form.Item>
                </Col>
                <Col span={12}>
                  <Form.Item name="pipelineId" label={t('sandbox.pipeline')}>
                    <Select allowClear options={pipelines.map((p) => ({ value: p.id, label: p.name || p.id }))} />
                  </Form.Item>
                </Col>
                <Col span={12}>
                  <Form.Item name="senderId" label={t('sandbox.sender')}>
                    <Input placeholder="sandbox-user" />
                  </Form.Item>
                </Col>
                <Col span={12}>
                  <Form.Item name="conversationId" label={t('sandbox.conversation')}>
                    <Input />
                  </Form.Item>
                </Col>
              </Row>
              <Button type="primary" htmlType="submit" loading={busy} block data-testid="sandbox-run">
                {t('sandbox.run')}
              </Button>
            </Form>
          </Card>
        </Col>
        <Col xs={24} xl={14}>
          <Card size="small" title={t('sandbox.result')}>
            {error && <Alert type="error" showIcon title={error} className="gap" />}
            {result && (
              <>
                <Space className="gap" wrap>
                  <StatusTag status={result.status} />
                  {result.reply?.model && <Typography.Text type="secondary">{result.reply.model}</Typography.Text>}
                  <Button type="link" onClick={() => navigate(`/runs/${encodeURIComponent(result.workflowId)}`)}>
                    {t('sandbox.openRun')}
                  </Button>
                </Space>
                {result.status === 'running' && <Alert type="info" title={t('sandbox.stillRunning')} className="gap" />}
                {result.reply && (
                  <Typography.Paragraph className="reply-bubble" data-testid="sandbox-reply">
                    {result.reply.text}
                  </Typography.Paragraph>
                )}
                <Trace trace={result.trace} />
              </>
            )}
          </Card>
        </Col>
      </Row>
    </div>
  );
}
