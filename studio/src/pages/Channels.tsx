// Chat platform channels: add or edit one per platform (secrets write-only), the callback URL to paste
// into the platform's console, on/off switches, and why messages were left unanswered.
import { DeleteOutlined, EditOutlined, PlusOutlined, StopOutlined } from '@ant-design/icons';
import { App, Button, Card, Col, Drawer, Form, Input, Modal, Popconfirm, Row, Select, Space, Switch, Table, Tag, Typography } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { api, ApiError, get } from '../api.js';
import { time } from '../components/format.js';
import type { MessageKey } from '../i18n.js';
import { useCan, useT } from '../store.js';

type ChannelType = 'dingtalk' | 'feishu' | 'wecom' | 'sandbox';

interface Channel {
  id: string;
  type: ChannelType;
  name?: string;
  enabled: boolean;
  respondTo: 'mention' | 'all';
  groups: boolean;
  direct: boolean;
  groupSession: 'shared' | 'sender';
  secrets: Record<string, boolean>;
  callbackUrl: string | null;
  source: string;
  [field: string]: unknown;
}

/** Per platform: plain fields and secret fields, as in the config file (docs/channels.md). */
const FIELDS: Record<ChannelType, { plain: string[]; secret: string[] }> = {
  dingtalk: { plain: ['appKey', 'robotCode', 'apiBase', 'oapiBase'], secret: ['appSecret', 'token', 'aesKey'] },
  feishu: { plain: ['appId', 'botOpenId', 'apiBase'], secret: ['appSecret', 'verificationToken', 'encryptKey'] },
  wecom: { plain: ['corpId', 'agentId', 'apiBase'], secret: ['secret', 'token', 'encodingAESKey'] },
  sandbox: { plain: [], secret: [] },
};
const PLATFORM = { dingtalk: '钉钉 DingTalk', feishu: '飞书 Feishu / Lark', wecom: '企业微信 WeCom', sandbox: 'Sandbox' } as const;

export function Channels() {
  const t = useT();
  const { message } = App.useApp();
  const canWrite = useCan('channels').write;
  const [channels, setChannels] = useState<Channel[]>([]);
  const [editing, setEditing] = useState<Channel | 'new'>();
  const [ignoredOf, setIgnoredOf] = useState<string>();

  const load = useCallback(() => get<{ channels: Channel[] }>('/channels').then((r) => setChannels(r.channels)), []);
  useEffect(() => {
    void load();
  }, [load]);
  const act = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
      await load();
    } catch (err) {
      message.error(err instanceof ApiError ? err.message : String(err));
    }
  };

  return (
    <div className="page">
      <Card size="small" title={t('channels.title')} extra={canWrite && <Button icon={<PlusOutlined />} onClick={() => setEditing('new')}>{t('channels.add')}</Button>}>
        <Table<Channel>
          rowKey="id"
          size="middle"
          pagination={false}
          dataSource={channels}
          expandable={{
            expandedRowRender: (c) => (
              <Space orientation="vertical">
                {c.callbackUrl && (
                  <span>
                    {t('channels.callbackUrl')}: <Typography.Text code copyable>{c.callbackUrl}</Typography.Text>
                  </span>
                )}
                <span>
                  {t('channels.secrets')}:{' '}
                  {Object.entries(c.secrets).map(([k, set]) => (
                    <Tag key={k} color={set ? 'green' : 'default'}>
                      {k}: {set ? t('common.set') : t('common.notSet')}
                    </Tag>
                  ))}
                </span>
              </Space>
            ),
          }}
          columns={[
            { title: t('common.id'), dataIndex: 'id', width: 140 },
            { title: t('common.name'), dataIndex: 'name', ellipsis: true },
            { title: t('channels.type'), dataIndex: 'type', width: 170, render: (v: ChannelType) => PLATFORM[v] },
            {
              title: t('channels.enabled'),
              dataIndex: 'enabled',
              width: 90,
              render: (on: boolean, c) => (
                <Switch checked={on} disabled={!canWrite} onChange={(v) => act(() => api('POST', `/channels/${encodeURIComponent(c.id)}/${v ? 'enable' : 'disable'}`))} />
              ),
            },
            { title: t('channels.respondTo'), dataIndex: 'respondTo', width: 130, render: (v: string) => t(`channels.respondTo.${v}` as MessageKey) },
            {
              title: t('channels.callback'),
              dataIndex: 'callbackUrl',
              render: (v: string | null) => (v ? <Typography.Text copyable className="callback-url">{v}</Typography.Text> : '–'),
            },
            { title: t('channels.source'), dataIndex: 'source', width: 90, render: (s: string) => (s === 'config' ? <Tag title={t('channels.sourceConfig')}>config</Tag> : <Tag>{s}</Tag>) },
            {
              title: t('common.actions'),
              width: 170,
              render: (_, c) => (
                <Space>
                  <Button size="small" icon={<StopOutlined />} onClick={() => setIgnoredOf(c.id)} title={t('channels.ignored')} />
                  {canWrite && c.id !== 'sandbox' && (
                    <>
                      <Button size="small" icon={<EditOutlined />} onClick={() => setEditing(c)} />
                      <Popconfirm title={t('common.confirmDelete', { name: c.id })} onConfirm={() => act(() => api('DELETE', `/channels/${encodeURIComponent(c.id)}`))}>
                        <Button size="small" danger icon={<DeleteOutlined />} />
                      </Popconfirm>
                    </>
                  )}
                </Space>
              ),
            },
          ]}
        />
      </Card>
      {editing && (
        <ChannelEditor
          channel={editing === 'new' ? undefined : editing}
          onClose={() => setEditing(undefined)}
          onSaved={async () => {
            setEditing(undefined);
            message.success(t('common.saved'));
            await load();
          }}
        />
      )}
      {ignoredOf && <IgnoredMessages channelId={ignoredOf} onClose={() => setIgnoredOf(undefined)} />}
    </div>
  );
}

function ChannelEditor({ channel, onClose, onSaved }: { channel?: Channel; onClose: () => void; onSaved: () => void }) {
  const t = useT();
  const [form] = Form.useForm();
  const type: ChannelType = Form.useWatch('type', form) ?? channel?.type ?? 'dingtalk';
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const save = async (values: Record<string, unknown>) => {
    setBusy(true);
    setError(undefined);
    // an empty secret field keeps what is stored; empty plain fields are left out
    const body = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined && v !== ''));
    try {
      if (channel) await api('PATCH', `/channels/${encodeURIComponent(channel.id)}`, body);
      else await api('POST', '/channels', body);
      onSaved();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  const initial = channel
    ? Object.fromEntries(Object.entries(channel).filter(([k]) => !['secrets', 'callbackUrl', 'source', 'enabled'].includes(k)))
    : { type: 'dingtalk', respondTo: 'mention', groups: true, direct: true, groupSession: 'shared' };

  return (
    <Modal open width={760} title={channel ? t('channels.edit', { id: channel.id }) : t('channels.add')} onCancel={onClose} onOk={() => form.submit()} confirmLoading={busy} okText={t('common.save')} destroyOnHidden>
      {error && <Typography.Paragraph type="danger">{error}</Typography.Paragraph>}
      <Form form={form} layout="vertical" initialValues={initial} onFinish={save}>
        <Row gutter={12}>
          <Col span={8}>
            <Form.Item name="id" label={t('common.id')} rules={[{ required: true, pattern: /^[a-z0-9][a-z0-9_-]{0,63}$/ }]}>
              <Input disabled={!!channel} placeholder="dt-support" />
            </Form.Item>
          </Col>
          <Col span={8}>
            <Form.Item name="type" label={t('channels.type')}>
              <Select disabled={!!channel} options={(Object.keys(PLATFORM) as ChannelType[]).map((k) => ({ value: k, label: PLATFORM[k] }))} />
            </Form.Item>
          </Col>
          <Col span={8}>
            <Form.Item name="name" label={t('common.name')}>
              <Input placeholder="售后群" />
            </Form.Item>
          </Col>
          <Col span={8}>
            <Form.Item name="respondTo" label={t('channels.respondTo')}>
              <Select options={['mention', 'all'].map((v) => ({ value: v, label: t(`channels.respondTo.${v}` as MessageKey) }))} />
            </Form.Item>
          </Col>
          <Col span={8}>
            <Form.Item name="groupSession" label={t('channels.groupSession')}>
              <Select options={['shared', 'sender'].map((v) => ({ value: v, label: t(`channels.groupSession.${v}` as MessageKey) }))} />
            </Form.Item>
          </Col>
          <Col span={4}>
            <Form.Item name="groups" label={t('channels.groups')} valuePropName="checked">
              <Switch />
            </Form.Item>
          </Col>
          <Col span={4}>
            <Form.Item name="direct" label={t('channels.direct')} valuePropName="checked">
              <Switch />
            </Form.Item>
          </Col>
          {FIELDS[type].plain.map((f) => (
            <Col span={12} key={f}>
              <Form.Item name={f} label={f}>
                <Input />
              </Form.Item>
            </Col>
          ))}
          {FIELDS[type].secret.map((f) => (
            <Col span={12} key={f}>
              <Form.Item name={f} label={f}>
                <Input.Password autoComplete="new-password" placeholder={channel?.secrets[f] ? t('common.keepSecret') : ''} />
              </Form.Item>
            </Col>
          ))}
        </Row>
      </Form>
    </Modal>
  );
}

interface Ignored {
  messageId: string;
  conversationId: string;
  senderId: string;
  chatType: string;
  reason: string;
  receivedAt: string;
}

function IgnoredMessages({ channelId, onClose }: { channelId: string; onClose: () => void }) {
  const t = useT();
  const [rows, setRows] = useState<Ignored[]>();
  useEffect(() => {
    void get<{ ignored: Ignored[] }>(`/channels/${encodeURIComponent(channelId)}/ignored`).then((r) => setRows(r.ignored));
  }, [channelId]);
  return (
    <Drawer open size="large" title={`${t('channels.ignored')} · ${channelId}`} onClose={onClose}>
      <Table
        size="small"
        rowKey="messageId"
        loading={!rows}
        dataSource={rows}
        columns={[
          { title: t('common.time'), dataIndex: 'receivedAt', render: time, width: 170 },
          { title: t('runs.sender'), dataIndex: 'senderId', ellipsis: true },
          { title: t('runs.conversation'), dataIndex: 'conversationId', ellipsis: true },
          { title: t('channels.reason'), dataIndex: 'reason' },
        ]}
      />
    </Drawer>
  );
}
