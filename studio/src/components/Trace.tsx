// A run's steps in order: each with its status, duration (drawn to scale), pipeline node, and, opened,
// what went in and came out. For a model call that is the complete prompt Temporal recorded.
import { Collapse, Empty, Space, Table, Tag, Typography } from 'antd';
import type { TraceStep as RecordedStep } from '../../../workflows/types.js';
import { stepLabel } from '../i18n.js';
import { useConsole, useT } from '../store.js';
import { ms } from './format.js';
import { Json } from './Json.js';
import { StatusTag } from './StatusTag.js';

/** A step as the workflow traces it, plus what the run's Temporal history adds (remote activities only). */
export type TraceStep = RecordedStep & { activity?: { input?: unknown; attempts?: number; failure?: string } };

interface Hit {
  source: number;
  documentName: string;
  position: number;
  score: number;
  via: string[];
}

export function Trace({ trace, currentStep }: { trace: TraceStep[]; currentStep?: string }) {
  const t = useT();
  const lang = useConsole((s) => s.lang);
  if (!trace.length && !currentStep) return <Empty />;
  const longest = Math.max(1, ...trace.map((s) => s.durationMs));
  const hits = (s: TraceStep) => (s.step === 'retrieve' ? ((s.output as { hits?: Hit[] } | undefined)?.hits ?? []) : []);

  return (
    <Collapse
      className="trace"
      data-testid="trace"
      items={[
        ...trace.map((s, i) => ({
          key: String(i),
          label: (
            <div className="trace-row" data-testid={`step-${s.step}`}>
              <span className="trace-name">{stepLabel(lang, s.step)}</span>
              <StatusTag status={s.status} />
              <span className="trace-bar">
                <span className={`trace-fill trace-${s.status}`} style={{ width: `${Math.max(1, (s.durationMs / longest) * 100)}%` }} />
              </span>
              <span className="trace-ms">{ms(s.durationMs)}</span>
              <Space size={4} className="trace-tags">
                {s.nodeId && <Tag>{t('run.node', { id: s.nodeId })}</Tag>}
                {s.activity?.attempts && s.activity.attempts > 1 ? <Tag color="orange">{t('run.attempts', { n: s.activity.attempts })}</Tag> : null}
              </Space>
            </div>
          ),
          children: (
            <div className="trace-detail">
              {s.error && (
                <Typography.Paragraph type="danger">
                  <b>{t('run.error')}:</b> {s.error}
                </Typography.Paragraph>
              )}
              {hits(s).length > 0 && (
                <Table
                  size="small"
                  pagination={false}
                  rowKey="source"
                  title={() => t('run.retrievalHits')}
                  dataSource={hits(s)}
                  columns={[
                    { title: '#', dataIndex: 'source', width: 48 },
                    { title: t('common.name'), dataIndex: 'documentName' },
                    { title: '§', dataIndex: 'position', width: 60 },
                    { title: 'score', dataIndex: 'score', width: 90, render: (v: number) => v.toFixed(3) },
                    { title: 'via', dataIndex: 'via', width: 140, render: (v: string[]) => v.join(' + ') },
                  ]}
                />
              )}
              {s.activity?.input !== undefined && (
                <>
                  <Typography.Text strong>{s.step === 'callModel' ? t('run.modelInput') : t('run.input')}</Typography.Text>
                  <Json value={s.activity.input} />
                </>
              )}
              {s.activity?.input === undefined && s.input !== undefined && (
                <>
                  <Typography.Text strong>{t('run.input')}</Typography.Text>
                  <Json value={s.input} />
                </>
              )}
              {s.output !== undefined && (
                <>
                  <Typography.Text strong>{t('run.output')}</Typography.Text>
                  <Json value={s.output} />
                </>
              )}
            </div>
          ),
        })),
        ...(currentStep
          ? [
              {
                key: 'current',
                collapsible: 'disabled' as const,
                label: (
                  <div className="trace-row">
                    <span className="trace-name">{stepLabel(lang, currentStep)}</span>
                    <StatusTag status="running" />
                  </div>
                ),
              },
            ]
          : []),
      ]}
    />
  );
}
