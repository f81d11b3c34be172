// Model providers (the seed's JSON shape) and the default/fallback chain, editable by admins; each
// model's health over a window: calls, errors, latency, time to first token, breaker state (live).
import { DeleteOutlined, EditOutlined, MinusCircleOutlined, PlusOutlined } from '@ant-design/icons';
import { App, Button, Card, Col, Form, Input, InputNumber, Modal, Popconfirm, Row, Segmented, Select, Space, Switch, Table, Tag, Tooltip, Typography } from 'antd';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { api, ApiError, get } from '../api.js';
import { EChart, type ChartOption } from '../components/EChart.js';
import { ms, pct, time } from '../components/format.js';
import type { MessageKey } from '../i18n.js';
import { useCan, useConsole, useT } from '../store.js';

interface ModelConfig {
  id: string;
  name?: string;
  contextWindow?: number;
  maxTokens?: number;
  reasoning?: boolean;
  [more: string]: unknown;
}
interface Provider {
  baseUrl: string;
  api: string;
  models: ModelConfig[];
  apiKey: boolean;
}
interface ModelsView {
  providers: Record<string, Provider>;
  default: string | null;
  fallbacks: string[];
}
interface Health {
  models: Record<
    string,
    {
      requests: number;
      errors: number;
      errorRate: number | null;
      latencyMs: { p50: number | null; p95: number | null };
      firstTokenMs: { p50: number | null };
      tokensPerSecond: number | null;
      lastError: { at: string; type: string | null; message: string | null } | null;
      breaker: { state: string; reason?: string | null };
    }
  >;
}

const BREAKER_COLORS: Record<string, string> = { closed: 'green', open: 'red', 'half-open': 'orange', unknown: 'default' };
/** the wire formats the gateway speaks */
const APIS = ['openai-completions'];

export function Models() {
  const t = useT();
  const { message } = App.useApp();
  const canWrite = useCan('models').write;
  const liveModels = useConsole((s) => s.live.models);
  const [view, setView] = useState<ModelsView>();
  const [health, setHealth] = useState<Health>();
  const [minutes, setMinutes] = useState(60);
  const [editing, setEditing] = useState<{ id?: string; provider?: Provider }>();

  const load = useCallback(() => get<ModelsView>('/models').then(setView), []);
  useEffect(() => {
    void load();
  }, [load]);
  useEffect(() => {
    void get<Health>(`/models/health?minutes=${minutes}`).then(setHealth, () => undefined);
  }, [minutes, liveModels]);

  const refs = useMemo(() => Object.entries(view?.providers ?? {}).flatMap(([id, p]) => p.models.map((m) => `${id}/${m.id}`)), [view]);
  const fail = (err: unknown) => message.error(err instanceof ApiError ? err.message : String(err));

  const saveDefaults = async (d: { default?: string; fallbacks?: string[] }) => {
    try {
      await api('PUT', '/models/defaults', { default: d.default, fallbacks: d.fallbacks ?? [] });
      message.success(t('common.saved'));
      await load();
    } catch (err) {
      fail(err);
    }
  };

  const remove = async (id: string) => {
    try {
      await api('DELETE', `/models/providers/${encodeURIComponent(id)}`);
      message.success(t('common.deleted'));
      await load();
    } catch (err) {
      fail(err);
    }
  };

  const rows = refs.map((ref) => {
    const h = health?.models[ref];
    const live = liveModels.find((m) => m.model === ref);
    return { ref, ...h, breakerState: live?.breaker ?? h?.breaker.state ?? 'unknown' };
  });

  const latencyChart: ChartOption = {
    tooltip: { trigger: 'axis' },
    legend: { top: 0 },
    grid: { left: 56, right: 16, top: 32, bottom: 28 },
    xAxis: { type: 'category', data: rows.map((r) => r.ref) },
    yAxis: { type: 'value', name: 'ms' },
    series: [
      { name: 'p50', type: 'bar', data: rows.map((r) => r.latencyMs?.p50 ?? 0) },
      { name: 'p95', type: 'bar', data: rows.map((r) => r.latencyMs?.p95 ?? 0) },
      { name: t('models.ttft'), type: 'bar', data: rows.map((r) => r.firstTokenMs?.p50 ?? 0) },
    ],
  };
  const errorChart: ChartOption = {
    tooltip: { trigger: 'axis', valueFormatter: (v: number) => pct(v) },
    grid: { left: 56, right: 16, top: 16, bottom: 28 },
    xAxis: { type: 'category', data: rows.map((r) => r.ref) },
    yAxis: { type: 'value', max: 1, axisLabel: { formatter: (v: number) => `${Math.round(v * 100)}%` } },
    series: [{ name: t('models.errorChart'), type: 'bar', data: rows.map((r) => r.errorRate ?? 0), itemStyle: { color: '#dc2626' } }],
  };

  return (
    <div className="page">
      <Row gutter={[16, 16]}>
        <Col span={24}>
          <Card
            size="small"
            title={t('models.providers')}
            extra={canWrite && <Button icon={<PlusOutlined />} onClick={() => setEditing({})} data-testid="add-provider">{t('models.addProvider')}</Button>}
          >
            <Table
              size="small"
              rowKey="id"
              pagination={false}
              dataSource={Object.entries(view?.providers ?? {}).map(([id, p]) => ({ id, ...p }))}
              columns={[
                { title: t('common.id'), dataIndex: 'id', width: 140 },
                { title: t('models.baseUrl'), dataIndex: 'baseUrl', ellipsis: true },
                { title: t('models.api'), dataIndex: 'api', width: 170 },
                { title: t('models.models'), dataIndex: 'models', render: (ms: ModelConfig[]) => ms.map((m) => <Tag key={m.id}>{m.name ? `${m.name} (${m.id})` : m.id}</Tag>) },
                { title: t('models.apiKey'), dataIndex: 'apiKey', width: 90, render: (v: boolean) => (v ? t('common.set') : t('common.notSet')) },
                ...(canWrite
                  ? [
                      {
                        title: t('common.actions'),
                        width: 110,
                        render: (_: unknown, p: Provider & { id: string }) => (
                          <Space>
                            <Button size="small" icon={<EditOutlined />} onClick={() => setEditing({ id: p.id, provider: p })} data-testid={`edit-provider-${p.id}`} />
                            <Popconfirm title={t('common.confirmDelete', { name: p.id })} onConfirm={() => remove(p.id)}>
                              <Button size="small" danger icon={<DeleteOutlined />} />
                            </Popconfirm>
                          </Space>
                        ),
                      },
                    ]
                  : []),
              ]}
            />
          </Card>
        </Col>
        <Col span={24}>
          <Card size="small" title={t('models.defaults')}>
            {view && (
              <Form layout="inline" initialValues={{ default: view.default ?? undefined, fallbacks: view.fallbacks }} onFinish={saveDefaults} disabled={!canWrite} key={JSON.stringify([view.default, view.fallbacks])}>
                <Form.Item name="default" label={t('models.default')}>
                  <Select style={{ width: 240 }} options={refs.map((r) => ({ value: r, label: r }))} />
                </Form.Item>
                <Form.Item name="fallbacks" label={t('models.fallbacks')}>
                  <Select mode="multiple" style={{ minWidth: 320 }} options={refs.map((r) => ({ value: r, label: r }))} />
                </Form.Item>
                {canWrite && (
                  <Button type="primary" htmlType="submit">
                    {t('common.save')}
                  </Button>
                )}
              </Form>
            )}
          </Card>
        </Col>
        <Col span={24}>
          <Card
            size="small"
            title={t('models.health')}
            extra={
              <Space>
                {t('models.window')}
                <Segmented value={minutes} onChange={(v) => setMinutes(Number(v))} options={[{ value: 15, label: '15m' }, { value: 60, label: '1h' }, { value: 1440, label: '24h' }]} />
              </Space>
            }
          >
            <Table
              size="small"
              rowKey="ref"
              pagination={false}
              dataSource={rows}
              columns={[
                { title: t('runs.model'), dataIndex: 'ref' },
                { title: t('models.breaker'), dataIndex: 'breakerState', render: (s: string) => <Tag color={BREAKER_COLORS[s]}>{t(`breaker.${s}` as MessageKey)}</Tag> },
                { title: t('models.requests'), dataIndex: 'requests', render: (v?: number) => v ?? 0 },
                { title: t('dash.errorRate'), dataIndex: 'errorRate', render: pct },
                { title: 'p50', dataIndex: ['latencyMs', 'p50'], render: ms },
                { title: 'p95', dataIndex: ['latencyMs', 'p95'], render: ms },
                { title: t('models.ttft'), dataIndex: ['firstTokenMs', 'p50'], render: ms },
                { title: t('models.tps'), dataIndex: 'tokensPerSecond', render: (v: number | null) => v ?? '–' },
                {
                  title: t('models.lastError'),
                  dataIndex: 'lastError',
                  ellipsis: true,
                  render: (e: Health['models'][string]['lastError']) => (e ? <Tooltip title={e.message}>{`${time(e.at)} ${e.type ?? ''}`}</Tooltip> : '–'),
                },
              ]}
            />
            <Row gutter={16} className="gap-top">
              <Col xs={24} xl={14}>
                <Typography.Text strong>{t('models.latencyChart')}</Typography.Text>
                <EChart option={latencyChart} height={240} />
              </Col>
              <Col xs={24} xl={10}>
                <Typography.Text strong>{t('models.errorChart')}</Typography.Text>
                <EChart option={errorChart} height={240} />
              </Col>
            </Row>
          </Card>
        </Col>
      </Row>
      {editing && (
        <ProviderEditor
          id={editing.id}
          provider={editing.provider}
          onClose={() => setEditing(undefined)}
          onSaved={async () => {
            setEditing(undefined);
            message.success(t('common.saved'));
            await load();
          }}
        />
      )}
    </div>
  );
}

interface ProviderForm {
  id: string;
  baseUrl: string;
  api: string;
  apiKey?: string;
  clearKey?: boolean;
  models: ModelConfig[];
}

function ProviderEditor({ id, provider, onClose, onSaved }: { id?: string; provider?: Provider; onClose: () => void; onSaved: () => void }) {
  const t = useT();
  const [form] = Form.useForm<ProviderForm>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const save = async (f: ProviderForm) => {
    setBusy(true);
    setError(undefined);
    // fields this form does not show (cost, input kinds, timeouts…) are kept as they were
    const original = new Map(provider?.models.map((m) => [m.id, m]));
    const models = f.models.map((m) => {
      const merged: ModelConfig = { ...original.get(m.id), ...m };
      for (const k of Object.keys(merged)) if (merged[k] === undefined || merged[k] === null || merged[k] === '') delete merged[k];
      return merged;
    });
    const apiKey = f.clearKey ? null : f.apiKey ? f.apiKey : undefined;
    try {
      await api('PUT', `/models/providers/${encodeURIComponent(f.id)}`, { baseUrl: f.baseUrl, api: f.api, models, ...(apiKey !== undefined && { apiKey }) });
      onSaved();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      open
      width={820}
      title={id ? t('models.editProvider', { id }) : t('models.addProvider')}
      onCancel={onClose}
      onOk={() => form.submit()}
      okText={t('common.save')}
      confirmLoading={busy}
      destroyOnHidden
    >
      {error && <Typography.Paragraph type="danger">{error}</Typography.Paragraph>}
      <Form
        form={form}
        layout="vertical"
        onFinish={save}
        initialValues={{ id, baseUrl: provider?.baseUrl, api: provider?.api ?? 'openai-completions', models: provider?.models ?? [{ id: '' }] }}
      >
        <Row gutter={12}>
          <Col span={6}>
            <Form.Item name="id" label={t('common.id')} rules={[{ required: true, pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]*$/ }]}>
              <Input disabled={!!id} />
            </Form.Item>
          </Col>
          <Col span={12}>
            <Form.Item name="baseUrl" label={t('models.baseUrl')} rules={[{ required: true, type: 'url' }]}>
              <Input placeholder="http://127.0.0.1:11434/v1" data-testid="provider-baseurl" />
            </Form.Item>
          </Col>
          <Col span={6}>
            <Form.Item name="api" label={t('models.api')}>
              <Select options={APIS.map((a) => ({ value: a, label: a }))} />
            </Form.Item>
          </Col>
          <Col span={12}>
            <Form.Item name="apiKey" label={t('models.apiKey')}>
              <Input.Password placeholder={provider?.apiKey ? t('common.keepSecret') : ''} autoComplete="new-password" />
            </Form.Item>
          </Col>
          {provider?.apiKey && (
            <Col span={12}>
              <Form.Item name="clearKey" label={`${t('common.delete')} ${t('models.apiKey')}`} valuePropName="checked">
                <Switch />
              </Form.Item>
            </Col>
          )}
        </Row>
        <Typography.Text strong>{t('models.models')}</Typography.Text>
        <Form.List name="models">
          {(fields, { add, remove }) => (
            <>
              {fields.map((field) => (
                <Space key={field.key} align="baseline" wrap className="model-row">
                  <Form.Item name={[field.name, 'id']} rules={[{ required: true }]} label={t('models.modelId')}>
                    <Input placeholder="qwen3:32b" style={{ width: 150 }} />
                  </Form.Item>
                  <Form.Item name={[field.name, 'name']} label={t('models.modelName')}>
                    <Input placeholder="Qwen3 32B (Local)" style={{ width: 170 }} data-testid={`model-name-${field.name}`} />
                  </Form.Item>
                  <Form.Item name={[field.name, 'contextWindow']} label={t('models.contextWindow')}>
                    <InputNumber min={512} style={{ width: 110 }} />
                  </Form.Item>
                  <Form.Item name={[field.name, 'maxTokens']} label={t('models.maxTokens')}>
                    <InputNumber min={1} style={{ width: 100 }} />
                  </Form.Item>
                  <Form.Item name={[field.name, 'reasoning']} label={t('models.reasoning')} valuePropName="checked">
                    <Switch size="small" />
                  </Form.Item>
                  {fields.length > 1 && <MinusCircleOutlined onClick={() => remove(field.name)} />}
                </Space>
              ))}
              <Button type="dashed" block icon={<PlusOutlined />} onClick={() => add({ id: '' })}>
                {t('models.addModel')}
              </Button>
            </>
          )}
        </Form.List>
      </Form>
    </Modal>
  );
}
