// What is happening now: runs in flight and where each one is (live, from the event stream), open
// conversations, and the last hour's traffic, latency and errors per channel and per model.
import { Card, Col, Empty, List, Row, Statistic, Table, Tag, Typography } from 'antd';
import { useEffect, useMemo, useState } from 'react';
import { get } from '../api.js';
import { EChart, type ChartOption } from '../components/EChart.js';
import { ago, ms, pct } from '../components/format.js';
import { StatusTag } from '../components/StatusTag.js';
import { stepLabel } from '../i18n.js';
import { useConsole, useT, type InFlightRun } from '../store.js';

interface Stats {
  perMinute: { minute: string; channelId: string; messages: number; failed: number }[];
  byChannel: { channelId: string; messages: number; failed: number; ignored: number; errorRate: number | null; p50Ms: number | null; p95Ms: number | null }[];
  byModel: { model: string; calls: number; errors: number; errorRate: number | null; p50Ms: number | null; p95Ms: number | null }[];
  conversations: { channelId: string; conversationId: string; since: string; messages: number; last: { senderId: string; text: string; status: string; at: string } | null }[];
}

/** Aggregates are refetched when runs finish, but not more often than this. */
const REFRESH_MIN_MS = 5000;

export function Dashboard() {
  const t = useT();
  const lang = useConsole((s) => s.lang);
  const navigate = useConsole((s) => s.navigate);
  const { inFlight, recent, version } = useConsole((s) => s.live);
  const [stats, setStats] = useState<Stats>();

  // refetched when runs finish (version), debounced: a burst of runs costs one request
  const loaded = !!stats;
  useEffect(() => {
    const timer = setTimeout(() => get<Stats>('/runs/stats?minutes=60').then(setStats, () => undefined), loaded ? REFRESH_MIN_MS : 0);
    return () => clearTimeout(timer);
  }, [version, loaded]);

  const totals = useMemo(() => {
    const messages = stats?.byChannel.reduce((n, c) => n + c.messages, 0) ?? 0;
    const failed = stats?.byChannel.reduce((n, c) => n + c.failed, 0) ?? 0;
    const answered = messages - (stats?.byChannel.reduce((n, c) => n + c.ignored, 0) ?? 0);
    const p95 = Math.max(0, ...(stats?.byChannel.map((c) => c.p95Ms ?? 0) ?? []));
    return { messages, errorRate: answered ? failed / answered : null, p95: p95 || null };
  }, [stats]);

  const perMinute = useMemo<ChartOption>(() => {
    const channels = [...new Set(stats?.perMinute.map((p) => p.channelId))];
    const minutes = [...new Set(stats?.perMinute.map((p) => p.minute))].sort();
    return {
      tooltip: { trigger: 'axis' },
      legend: { top: 0 },
      grid: { left: 40, right: 16, top: 32, bottom: 28 },
      xAxis: { type: 'category', data: minutes.map((m) => new Date(m).toLocaleTimeString(lang, { hour: '2-digit', minute: '2-digit' })) },
      yAxis: { type: 'value', minInterval: 1 },
      series: channels.map((c) => ({
        name: c,
        type: 'bar',
        stack: 'all',
        data: minutes.map((m) => stats?.perMinute.find((p) => p.minute === m && p.channelId === c)?.messages ?? 0),
      })),
    };
  }, [stats, lang]);

  const latency = (rows: { name: string; p50Ms: number | null; p95Ms: number | null; errorRate: number | null }[]): ChartOption => ({
    tooltip: { trigger: 'axis' },
    legend: { top: 0 },
    grid: { left: 56, right: 48, top: 32, bottom: 28 },
    xAxis: { type: 'category', data: rows.map((r) => r.name) },
    yAxis: [
      { type: 'value', name: 'ms' },
      { type: 'value', name: t('dash.errorRate'), max: 1, axisLabel: { formatter: (v: number) => `${Math.round(v * 100)}%` } },
    ],
    series: [
      { name: 'p50', type: 'bar', data: rows.map((r) => r.p50Ms ?? 0) },
      { name: 'p95', type: 'bar', data: rows.map((r) => r.p95Ms ?? 0) },
      { name: t('dash.errorRate'), type: 'line', yAxisIndex: 1, data: rows.map((r) => r.errorRate ?? 0) },
    ],
  });

  const running = Object.values(inFlight).sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  const open = (id: string) => navigate(`/runs/${encodeURIComponent(id)}`);

  return (
    <div className="page">
      <Row gutter={[16, 16]}>
        <Col xs={12} md={6}>
          <Card>
            <Statistic title={t('dash.inFlight')} value={running.length} data-testid="stat-inflight" />
          </Card>
        </Col>
        <Col xs={12} md={6}>
          <Card>
            <Statistic title={t('dash.conversations')} value={stats?.conversations.length ?? 0} />
          </Card>
        </Col>
        <Col xs={12} md={6}>
          <Card>
            <Statistic title={t('dash.messagesHour')} value={totals.messages} />
          </Card>
        </Col>
        <Col xs={12} md={6}>
          <Card>
            <Statistic title={`${t('dash.errorRate')} · ${t('dash.p95')}`} value={`${pct(totals.errorRate)} · ${ms(totals.p95)}`} />
          </Card>
        </Col>

        <Col xs={24} xl={14}>
          <Card title={t('dash.inFlight')} size="small">
            <Table<InFlightRun>
              size="small"
              rowKey="workflowId"
              dataSource={running}
              pagination={false}
              locale={{ emptyText: t('dash.nothingInFlight') }}
              onRow={(r) => ({ onClick: () => open(r.workflowId), className: 'clickable' })}
              columns={[
                { title: t('runs.channel'), dataIndex: 'channelId', width: 110 },
                { title: t('runs.sender'), dataIndex: 'senderId', width: 140, ellipsis: true },
                { title: t('runs.text'), dataIndex: 'text', ellipsis: true },
                { title: t('dash.currentStep'), dataIndex: 'currentStep', width: 120, render: (s?: string) => <Tag color="processing">{s ? stepLabel(lang, s) : '…'}</Tag> },
                { title: t('dash.startedAt'), dataIndex: 'startedAt', width: 120, render: ago },
              ]}
            />
          </Card>
        </Col>
        <Col xs={24} xl={10}>
          <Card title={t('dash.recent')} size="small">
            {recent.length ? (
              <List
                size="small"
                dataSource={recent.slice(0, 8)}
                renderItem={(r) => (
                  <List.Item className="clickable" onClick={() => open(r.workflowId)} extra={<StatusTag status={r.status} />}>
                    <Typography.Text ellipsis className="grow">
                      <Tag>{r.channelId}</Tag>
                      {r.text}
                    </Typography.Text>
                    <Typography.Text type="secondary">{ms(r.durationMs)}</Typography.Text>
                  </List.Item>
                )}
              />
            ) : (
              <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} />
            )}
          </Card>
        </Col>

        <Col xs={24} xl={12}>
          <Card title={t('dash.perMinute')} size="small">
            <EChart option={perMinute} />
          </Card>
        </Col>
        <Col xs={24} xl={12}>
          <Card title={t('dash.latencyChannel')} size="small">
            <EChart option={latency(stats?.byChannel.map((c) => ({ ...c, name: c.channelId })) ?? [])} />
          </Card>
        </Col>
        <Col xs={24} xl={12}>
          <Card title={t('dash.latencyModel')} size="small">
            <EChart option={latency(stats?.byModel.map((m) => ({ ...m, name: m.model })) ?? [])} />
          </Card>
        </Col>
        <Col xs={24} xl={12}>
          <Card title={t('dash.conversations')} size="small">
            <Table
              size="small"
              rowKey={(c) => `${c.channelId}/${c.conversationId}`}
              dataSource={stats?.conversations ?? []}
              pagination={{ pageSize: 8, hideOnSinglePage: true }}
              columns={[
                { title: t('runs.channel'), dataIndex: 'channelId', width: 110 },
                { title: t('runs.conversation'), dataIndex: 'conversationId', ellipsis: true },
                { title: t('dash.messages'), dataIndex: 'messages', width: 80 },
                { title: t('dash.lastMessage'), dataIndex: ['last', 'text'], ellipsis: true },
                { title: t('common.time'), dataIndex: ['last', 'at'], width: 110, render: (v?: string) => (v ? ago(v) : '–') },
              ]}
            />
          </Card>
        </Col>
      </Row>
    </div>
  );
}
