// Search every run: by channel, sender, text (message or reply), status and time. Runs in flight come
// first (from Temporal), then finished ones, newest first. A row opens the run's whole chain.
import { DatePicker, Form, Input, Select, Space, Table, Tag, Typography } from 'antd';
import type { Dayjs } from 'dayjs';
import { useCallback, useEffect, useState } from 'react';
import { get, query } from '../api.js';
import { ms, time } from '../components/format.js';
import { StatusTag } from '../components/StatusTag.js';
import { stepLabel } from '../i18n.js';
import { useConsole, useT } from '../store.js';
import { SearchButtons } from '../components/SearchButtons.js';

export interface RunSummary {
  workflowId: string;
  channelId: string;
  conversationId: string;
  senderId: string;
  text: string;
  status: string;
  currentStep?: string;
  replyText: string | null;
  model: string | null;
  dryRun: boolean;
  receivedAt: string;
  durationMs: number | null;
}

interface Filters {
  channel?: string;
  sender?: string;
  text?: string;
  status?: string;
  range?: [Dayjs, Dayjs] | null;
}

export function Runs() {
  const t = useT();
  const lang = useConsole((s) => s.lang);
  const navigate = useConsole((s) => s.navigate);
  const [form] = Form.useForm<Filters>();
  const [filters, setFilters] = useState<Filters>({});
  const [page, setPage] = useState({ page: 1, pageSize: 20 });
  const [data, setData] = useState<{ runs: RunSummary[]; total: number }>({ runs: [], total: 0 });
  const [loading, setLoading] = useState(false);
  const [channels, setChannels] = useState<string[]>([]);

  useEffect(() => {
    get<{ channels: { id: string }[] }>('/channels').then((r) => setChannels(r.channels.map((c) => c.id)), () => undefined);
  }, []);

  const load = useCallback(async () => {
    setLoading(true);
    try {
      const q = query({
        channel: filters.channel,
        sender: filters.sender?.trim(),
        text: filters.text?.trim(),
        status: filters.status,
        from: filters.range?.[0]?.toISOString(),
        to: filters.range?.[1]?.toISOString(),
        page: page.page,
        pageSize: page.pageSize,
      });
      setData(await get(`/runs${q}`));
    } finally {
      setLoading(false);
    }
  }, [filters, page]);

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <div className="page">
      <Form
        form={form}
        layout="inline"
        className="filters"
        onFinish={(f) => {
          setFilters(f);
          setPage((p) => ({ ...p, page: 1 }));
        }}
      >
        <Form.Item name="text">
          <Input.Search placeholder={t('runs.searchText')} allowClear onSearch={() => form.submit()} style={{ width: 260 }} data-testid="runs-text" />
        </Form.Item>
        <Form.Item name="channel">
          <Select placeholder={t('runs.anyChannel')} allowClear style={{ width: 150 }} options={channels.map((c) => ({ value: c, label: c }))} />
        </Form.Item>
        <Form.Item name="sender">
          <Input placeholder={t('runs.sender')} allowClear style={{ width: 150 }} />
        </Form.Item>
        <Form.Item name="status">
          <Select
            placeholder={t('runs.anyStatus')}
            allowClear
            style={{ width: 130 }}
            options={['running', 'replied', 'failed', 'ignored'].map((s) => ({ value: s, label: <StatusTag status={s} /> }))}
          />
        </Form.Item>
        <Form.Item name="range">
          <DatePicker.RangePicker showTime />
        </Form.Item>
        <SearchButtons form={form} />
      </Form>
      <Table<RunSummary>
        rowKey="workflowId"
        size="middle"
        loading={loading}
        dataSource={data.runs}
        onRow={(r) => ({ onClick: () => navigate(`/runs/${encodeURIComponent(r.workflowId)}`), className: 'clickable' })}
        pagination={{
          current: page.page,
          pageSize: page.pageSize,
          total: data.total,
          showSizeChanger: true,
          showTotal: (n) => t('common.total', { n }),
          onChange: (p, size) => setPage({ page: p, pageSize: size }),
        }}
        columns={[
          { title: t('runs.received'), dataIndex: 'receivedAt', width: 170, render: time },
          {
            title: t('runs.status'),
            dataIndex: 'status',
            width: 150,
            render: (s: string, r) => (
              <Space size={4}>
                <StatusTag status={s} />
                {r.currentStep && <Tag>{stepLabel(lang, r.currentStep)}</Tag>}
              </Space>
            ),
          },
          { title: t('runs.channel'), dataIndex: 'channelId', width: 120, render: (c: string, r) => (r.dryRun ? <Tag>{c}</Tag> : c) },
          { title: t('runs.sender'), dataIndex: 'senderId', width: 150, ellipsis: true },
          { title: t('runs.text'), dataIndex: 'text', ellipsis: true, render: (v: string) => <Typography.Text>{v}</Typography.Text> },
          { title: t('runs.reply'), dataIndex: 'replyText', ellipsis: true },
          { title: t('runs.model'), dataIndex: 'model', width: 150, ellipsis: true },
          { title: t('runs.duration'), dataIndex: 'durationMs', width: 100, render: ms },
        ]}
      />
    </div>
  );
}
