// The append-only, hash-chained audit log: who changed what and every message handled. Filter, export
// what is filtered as CSV, and verify that no row was changed or removed since it was written.
import { DownloadOutlined, SafetyCertificateOutlined } from '@ant-design/icons';
import { Alert, Button, DatePicker, Form, Input, Space, Table, Typography } from 'antd';
import type { Dayjs } from 'dayjs';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { get, query } from '../api.js';
import { time } from '../components/format.js';
import { Json } from '../components/Json.js';
import { useConsole, useT } from '../store.js';
import { SearchButtons } from '../components/SearchButtons.js';

interface AuditRow {
  id: number;
  at: string;
  actor: string;
  action: string;
  subject: string;
  detail: Record<string, unknown>;
  hash: string;
}

interface Filters {
  actor?: string;
  action?: string;
  subject?: string;
  q?: string;
  range?: [Dayjs, Dayjs] | null;
}

type Verification = { ok: boolean; rows: number; brokenAt?: number };

export function AuditLog() {
  const t = useT();
  const navigate = useConsole((s) => s.navigate);
  const version = useConsole((s) => s.live.version);
  const [form] = Form.useForm<Filters>();
  const [filters, setFilters] = useState<Filters>({});
  const [page, setPage] = useState({ page: 1, pageSize: 50 });
  const [data, setData] = useState<{ rows: AuditRow[]; total: number }>({ rows: [], total: 0 });
  const [loading, setLoading] = useState(false);
  const [verification, setVerification] = useState<Verification>();
  const [verifying, setVerifying] = useState(false);

  const filterQuery = useMemo(
    () => ({
      actor: filters.actor?.trim(),
      action: filters.action?.trim(),
      subject: filters.subject?.trim(),
      q: filters.q?.trim(),
      from: filters.range?.[0]?.toISOString(),
      to: filters.range?.[1]?.toISOString(),
    }),
    [filters],
  );

  const load = useCallback(async () => {
    setLoading(true);
    try {
      setData(await get(`/audit${query({ ...filterQuery, page: page.page, pageSize: page.pageSize })}`));
    } finally {
      setLoading(false);
    }
  }, [filterQuery, page]);

  const verify = useCallback(async () => {
    setVerifying(true);
    try {
      setVerification(await get<Verification>('/audit/verify'));
    } finally {
      setVerifying(false);
    }
  }, []);

  // new rows arrive on the event stream: the first page follows them
  useEffect(() => {
    void load();
  }, [load, page.page === 1 ? version : 0]);
  useEffect(() => {
    void verify();
  }, [verify]);

  return (
    <div className="page">
      <Space className="gap" wrap>
        <Button icon={<SafetyCertificateOutlined />} loading={verifying} onClick={verify} data-testid="verify-chain">
          {t('audit.verify')}
        </Button>
        <Button icon={<DownloadOutlined />} href={`/api/audit/export.csv${query(filterQuery)}`} data-testid="export-csv">
          {t('audit.export')}
        </Button>
      </Space>
      {verification && (
        <Alert
          className="gap"
          showIcon
          data-testid="chain-status"
          type={verification.ok ? 'success' : 'error'}
          title={verification.ok ? t('audit.ok', { rows: verification.rows }) : t('audit.broken', { id: verification.brokenAt ?? '?', rows: verification.rows })}
        />
      )}
      <Form
        form={form}
        layout="inline"
        className="filters"
        onFinish={(f) => {
          setFilters(f);
          setPage((p) => ({ ...p, page: 1 }));
        }}
      >
        <Form.Item name="action">
          <Input placeholder={t('audit.actionHint')} allowClear style={{ width: 220 }} />
        </Form.Item>
        <Form.Item name="actor">
          <Input placeholder={t('audit.actor')} allowClear style={{ width: 160 }} />
        </Form.Item>
        <Form.Item name="subject">
          <Input placeholder={t('audit.subject')} allowClear style={{ width: 200 }} />
        </Form.Item>
        <Form.Item name="q">
          <Input placeholder={t('audit.text')} allowClear style={{ width: 160 }} />
        </Form.Item>
        <Form.Item name="range">
          <DatePicker.RangePicker showTime />
        </Form.Item>
        <SearchButtons form={form} />
      </Form>
      <Table<AuditRow>
        rowKey="id"
        size="small"
        loading={loading}
        dataSource={data.rows}
        rowClassName={(r) => (verification?.brokenAt === r.id ? 'row-broken' : '')}
        expandable={{ expandedRowRender: (r) => <Json value={{ ...r.detail, hash: r.hash }} /> }}
        pagination={{
          current: page.page,
          pageSize: page.pageSize,
          total: data.total,
          showSizeChanger: true,
          showTotal: (n) => t('common.total', { n }),
          onChange: (p, size) => setPage({ page: p, pageSize: size }),
        }}
        columns={[
          { title: '#', dataIndex: 'id', width: 80 },
          { title: t('common.time'), dataIndex: 'at', width: 170, render: time },
          { title: t('audit.actor'), dataIndex: 'actor', width: 200, ellipsis: true },
          { title: t('audit.action'), dataIndex: 'action', width: 190 },
          {
            title: t('audit.subject'),
            dataIndex: 'subject',
            ellipsis: true,
            render: (s: string) => (s.startsWith('msg:') ? <Typography.Link onClick={() => navigate(`/runs/${encodeURIComponent(s)}`)}>{s}</Typography.Link> : s),
          },
          { title: t('audit.detail'), dataIndex: 'detail', ellipsis: true, render: (d: unknown) => <Typography.Text type="secondary">{JSON.stringify(d)}</Typography.Text> },
        ]}
      />
    </div>
  );
}
