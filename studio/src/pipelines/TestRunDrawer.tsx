// The test run: saves the draft, sends one message through it in the sandbox, then shows the reply and,
// on the canvas, the path the message took with each node's duration; here, each node's output.
import { Alert, Button, Drawer, Form, Input, Tag, Timeline, Typography } from 'antd';
import { useState } from 'react';
import { api, describeError, type SandboxAnswer } from './api.js';
import { useT } from './i18n.js';
import { formatMs } from './nodes/NodeCard.js';
import { useEditor } from './store.js';

interface Props {
  open: boolean;
  onClose: () => void;
  pipelineId: string;
  /** saves the draft when it has changed; false when saving failed */
  save: () => Promise<boolean>;
}

const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v, null, 2));

export function TestRunDrawer({ open, onClose, pipelineId, save }: Props) {
  const t = useT();
  const [text, setText] = useState('');
  const [senderId, setSenderId] = useState('');
  const [running, setRunning] = useState(false);
  const [answer, setAnswer] = useState<SandboxAnswer | null>(null);
  const [error, setError] = useState<string | null>(null);
  const hasRun = useEditor((s) => s.run !== null);
  const { showRun, clearRun, select } = useEditor.getState();

  const run = async () => {
    setRunning(true);
    setError(null);
    setAnswer(null);
    try {
      if (!(await save())) return;
      const result = await api.testRun(pipelineId, text.trim(), senderId.trim() || undefined);
      setAnswer(result);
      showRun(result.trace);
    } catch (err) {
      setError(describeError(t, err));
    } finally {
      setRunning(false);
    }
  };

  const nodeSteps = answer?.trace.filter((s) => s.nodeId) ?? [];
  return (
    <Drawer title={t('test.title')} open={open} onClose={onClose} size={440} mask={false} data-testid="test-drawer">
      <p className="pl-hint">{t('test.hint')}</p>
      <Form layout="vertical" onFinish={run}>
        <Form.Item label={t('test.message')} required>
          <Input.TextArea value={text} onChange={(e) => setText(e.target.value)} autoSize={{ minRows: 2 }} data-testid="test-message" />
        </Form.Item>
        <Form.Item label={t('test.sender')}>
          <Input value={senderId} onChange={(e) => setSenderId(e.target.value)} data-testid="test-sender" />
        </Form.Item>
        <Button type="primary" htmlType="submit" loading={running} disabled={!text.trim()} data-testid="test-run">
          {running ? t('test.running') : t('test.run')}
        </Button>
        {hasRun && (
          <Button type="link" onClick={clearRun}>
            {t('test.clear')}
          </Button>
        )}
      </Form>
      {error && <Alert type="error" title={error} className="pl-gap" />}
      {answer && (
        <div className="pl-gap" data-testid="test-result">
          <Typography.Title level={5}>{t('test.reply')}</Typography.Title>
          {answer.reply ? (
            <div className="pl-reply" data-testid="test-reply">
              <div className="pl-reply-text">{answer.reply.text}</div>
              {answer.reply.buttons?.map((b, i) => (
                <Tag key={i} color="blue" data-testid="test-reply-button">
                  {b.label}
                </Tag>
              ))}
            </div>
          ) : (
            <Typography.Text type="secondary">{t('test.noReply')}</Typography.Text>
          )}
          <Typography.Title level={5} className="pl-gap">
            {t('test.steps')}
          </Typography.Title>
          <Timeline
            items={nodeSteps.map((s, i) => ({
              key: i,
              color: s.status === 'failed' ? 'red' : s.status === 'ok' ? 'green' : 'gray',
              content: (
                <div data-testid={`test-step-${s.nodeId}`}>
                  <Button type="link" size="small" onClick={() => select(s.nodeId!)} className="pl-step-link">
                    {s.nodeId}
                  </Button>
                  <Typography.Text type="secondary">
                    {s.step} · {formatMs(s.durationMs)}
                  </Typography.Text>
                  {s.error && <Typography.Paragraph type="danger">{s.error}</Typography.Paragraph>}
                  {s.output !== undefined && (
                    <details>
                      <summary>{t('test.output')}</summary>
                      <pre className="pl-pre">{show(s.output)}</pre>
                    </details>
                  )}
                </div>
              ),
            }))}
          />
        </div>
      )}
    </Drawer>
  );
}
