// Flow control, the circuit breaker and alert targets (/api/settings), each saved on its own: a change
// applies to every imflow process within seconds and is audited. Alert webhook URLs may carry tokens:
// non-admins see them cut to their origin and cannot save.
import { App, Button, Card, Form, Input, InputNumber, Select, Space } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { api, ApiError, get } from '../api.js';
import { useCan, useT } from '../store.js';

interface Limits {
  rps?: number;
  concurrency?: number;
  perSenderPerMinute?: number;
  queueNoticeAfterSeconds: number;
  queueNotice: string;
  perModel: Record<string, { rps?: number; concurrency?: number }>;
}
interface Breaker {
  errorRate: number;
  minCalls: number;
  timeouts: number;
  windowSeconds: number;
  openSeconds: number;
}
interface AlertChat {
  channelId: string;
  to: string;
  chatType: 'group' | 'direct';
}
interface Settings {
  limits: Limits;
  breaker: Breaker;
  alerts: { webhooks: string[]; chats: AlertChat[] };
}
interface AlertsForm {
  webhooks: string;
  chats: AlertChat[];
}

/** An optional whole number: an emptied field removes the limit. */
const optional = (v: number | null | undefined) => (typeof v === 'number' ? v : undefined);

export function Limits() {
  const t = useT();
  const { message } = App.useApp();
  const canWrite = useCan('settings').write;
  const [settings, setSettings] = useState<Settings>();
  const [limitsForm] = Form.useForm<Limits>();
  const [breakerForm] = Form.useForm<Breaker>();
  const [alertsForm] = Form.useForm<AlertsForm>();

  const load = useCallback(
    () =>
      get<Settings>('/settings').then((s) => {
        setSettings(s);
        limitsForm.setFieldsValue(s.limits);
        breakerForm.setFieldsValue(s.breaker);
        alertsForm.setFieldsValue({ webhooks: s.alerts.webhooks.join('\n'), chats: s.alerts.chats });
      }),
    [limitsForm, breakerForm, alertsForm],
  );
  useEffect(() => void load(), [load]);

  const save = async (key: keyof Settings, body: unknown) => {
    try {
      await api('PUT', `/settings/${key}`, body);
      message.success(t('limits.saved'));
      await load();
    } catch (err) {
      message.error(err instanceof ApiError ? err.message : String(err));
    }
  };

  if (!settings) return null;
  const number = (name: string, label: string, extra?: string, props: Record<string, unknown> = {}) => (
    <Form.Item name={name} label={label} extra={extra}>
      <InputNumber min={1} style={{ width: 160 }} disabled={!canWrite} {...props} />
    </Form.Item>
  );
  const submit = (label = t('limits.save')) =>
    canWrite && (
      <Form.Item>
        <Button type="primary" htmlType="submit">
          {label}
        </Button>
      </Form.Item>
    );

  return (
    <Space direction="vertical" size="large" style={{ width: '100%' }} data-testid="limits-settings">
      <Card title={t('limits.flow')} size="small">
        <Form
          form={limitsForm}
          layout="vertical"
          onFinish={(v) =>
            save('limits', {
              ...settings.limits,
              rps: optional(v.rps),
              concurrency: optional(v.concurrency),
              perSenderPerMinute: optional(v.perSenderPerMinute),
              queueNoticeAfterSeconds: v.queueNoticeAfterSeconds,
              queueNotice: v.queueNotice,
            })
          }
        >
          <Space wrap size="large">
            {number('rps', t('limits.rps'), t('limits.emptyIsNone'))}
            {number('concurrency', t('limits.concurrency'), t('limits.emptyIsNone'))}
            {number('perSenderPerMinute', t('limits.perSender'), t('limits.emptyIsNone'))}
            {number('queueNoticeAfterSeconds', t('limits.noticeAfter'))}
          </Space>
          <Form.Item name="queueNotice" label={t('limits.notice')}>
            <Input.TextArea autoSize maxLength={500} disabled={!canWrite} />
          </Form.Item>
          {submit()}
        </Form>
      </Card>

      <Card title={t('limits.breaker')} size="small">
        <Form form={breakerForm} layout="vertical" onFinish={(v) => save('breaker', v)}>
          <Space wrap size="large">
            {number('errorRate', t('limits.errorRate'), undefined, { min: 0.001, max: 1, step: 0.01 })}
            {number('minCalls', t('limits.minCalls'))}
            {number('timeouts', t('limits.timeouts'))}
            {number('windowSeconds', t('limits.window'), undefined, { min: 10 })}
            {number('openSeconds', t('limits.open'))}
          </Space>
          {submit()}
        </Form>
      </Card>

      <Card title={t('limits.alerts')} size="small">
        <Form
          form={alertsForm}
          layout="vertical"
          onFinish={(v) => save('alerts', { webhooks: v.webhooks.split('\n').map((l) => l.trim()).filter(Boolean), chats: v.chats ?? [] })}
        >
          <Form.Item name="webhooks" label={t('limits.webhooks')} extra={t('limits.webhooksHint')}>
            <Input.TextArea autoSize={{ minRows: 2 }} disabled={!canWrite} placeholder="https://oapi.dingtalk.com/robot/send?access_token=…" />
          </Form.Item>
          <Form.List name="chats">
            {(fields, { add, remove }) => (
              <>
                {fields.map((f) => (
                  <Space key={f.key} align="baseline">
                    <Form.Item name={[f.name, 'channelId']} rules={[{ required: true }]}>
                      <Input placeholder={t('limits.chatChannel')} disabled={!canWrite} />
                    </Form.Item>
                    <Form.Item name={[f.name, 'to']} rules={[{ required: true }]}>
                      <Input placeholder={t('limits.chatTo')} disabled={!canWrite} />
                    </Form.Item>
                    <Form.Item name={[f.name, 'chatType']} initialValue="group">
                      <Select style={{ width: 120 }} disabled={!canWrite} options={[{ value: 'group', label: t('limits.group') }, { value: 'direct', label: t('limits.direct') }]} />
                    </Form.Item>
                    {canWrite && <Button onClick={() => remove(f.name)}>{t('limits.remove')}</Button>}
                  </Space>
                ))}
                {canWrite && (
                  <Form.Item>
                    <Button onClick={() => add({ chatType: 'group' })}>{t('limits.addChat')}</Button>
                  </Form.Item>
                )}
              </>
            )}
          </Form.List>
          {submit()}
        </Form>
      </Card>
    </Space>
  );
}
