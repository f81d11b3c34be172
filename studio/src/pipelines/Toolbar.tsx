// The editor's toolbar: back, the pipeline's name and state, undo/redo, problems, save, test, publish, versions.
import {
  ArrowLeftOutlined,
  CheckCircleOutlined,
  CloudUploadOutlined,
  ExclamationCircleOutlined,
  HistoryOutlined,
  PlayCircleOutlined,
  RedoOutlined,
  SaveOutlined,
  UndoOutlined,
} from '@ant-design/icons';
import { Button, Popover, Space, Tag, Tooltip, Typography } from 'antd';
import type { Pipeline } from './api.js';
import { useT } from './i18n.js';
import { useDirty, useEditor } from './store.js';

interface Props {
  pipeline: Pipeline;
  saving: boolean;
  onBack: () => void;
  onRename: (name: string) => void;
  onSave: () => void;
  onTest: () => void;
  onPublish: () => void;
  onHistory: () => void;
}

export function Toolbar({ pipeline, saving, onBack, onRename, onSave, onTest, onPublish, onHistory }: Props) {
  const t = useT();
  const dirty = useDirty();
  const canUndo = useEditor((s) => s.past.length > 0 && !s.readOnly);
  const canRedo = useEditor((s) => s.future.length > 0 && !s.readOnly);
  const readOnly = useEditor((s) => s.readOnly);
  const issues = useEditor((s) => s.issues);
  const { undo, redo, select } = useEditor.getState();

  const problems = (
    <ul className="pl-problems">
      {issues.map((p, i) => (
        <li key={i}>
          {p.nodeId ? (
            <Button type="link" size="small" onClick={() => select(p.nodeId!)}>
              {p.nodeId}
            </Button>
          ) : null}
          {p.message}
        </li>
      ))}
    </ul>
  );

  return (
    <div className="pl-toolbar" data-testid="editor-toolbar">
      <Space>
        <Tooltip title={t('editor.back')}>
          <Button icon={<ArrowLeftOutlined />} onClick={onBack} data-testid="editor-back" />
        </Tooltip>
        <Typography.Title level={5} className="pl-title" editable={readOnly ? false : { onChange: onRename, triggerType: ['text', 'icon'] }}>
          {pipeline.name}
        </Typography.Title>
        {pipeline.published ? <Tag color="green">{t('editor.publishedVersion', { version: pipeline.published.version })}</Tag> : <Tag>{t('editor.draft')}</Tag>}
        {dirty && (
          <Tag color="orange" data-testid="editor-dirty">
            {t('editor.unsaved')}
          </Tag>
        )}
      </Space>
      <Space wrap>
        {!readOnly &&
          (issues.length > 0 ? (
            <Popover content={problems} trigger="click" placement="bottom">
              <Button danger type="text" icon={<ExclamationCircleOutlined />} data-testid="editor-issues">
                {t('editor.issues', { count: issues.length })}
              </Button>
            </Popover>
          ) : (
            <Typography.Text type="success" data-testid="editor-valid">
              <CheckCircleOutlined /> {t('editor.noIssues')}
            </Typography.Text>
          ))}
        <Tooltip title={t('editor.undo')}>
          <Button icon={<UndoOutlined />} onClick={undo} disabled={!canUndo} data-testid="editor-undo" />
        </Tooltip>
        <Tooltip title={t('editor.redo')}>
          <Button icon={<RedoOutlined />} onClick={redo} disabled={!canRedo} data-testid="editor-redo" />
        </Tooltip>
        <Button icon={<SaveOutlined />} onClick={onSave} loading={saving} disabled={!dirty} data-testid="editor-save">
          {t('editor.save')}
        </Button>
        <Button icon={<PlayCircleOutlined />} onClick={onTest} disabled={readOnly} data-testid="editor-test">
          {t('editor.test')}
        </Button>
        <Button icon={<HistoryOutlined />} onClick={onHistory} data-testid="editor-history">
          {t('editor.history')}
        </Button>
        <Button type="primary" icon={<CloudUploadOutlined />} onClick={onPublish} disabled={readOnly} data-testid="editor-publish">
          {t('editor.publish')}
        </Button>
      </Space>
    </div>
  );
}
