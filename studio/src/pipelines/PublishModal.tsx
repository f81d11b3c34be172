// Publishing: saves the draft, then makes it the version new messages run, with a note saying what changed.
// When the server refuses, its per-node problems become the marks on the canvas.
import { App, Form, Input, Modal, type ButtonProps } from 'antd';
import { useState } from 'react';
import { api, ApiError, describeError, type ValidationError } from './api.js';
import { useT } from './i18n.js';
import { useEditor } from './store.js';

interface Props {
  open: boolean;
  onClose: () => void;
  pipelineId: string;
  save: () => Promise<boolean>;
  onPublished: (version: number) => void;
}

export function PublishModal({ open, onClose, pipelineId, save, onPublished }: Props) {
  const t = useT();
  const { message } = App.useApp();
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);

  const publish = async () => {
    setBusy(true);
    try {
      if (!(await save())) return;
      const { version } = await api.publish(pipelineId, note.trim() || undefined);
      message.success(t('publish.done', { version }));
      setNote('');
      onPublished(version);
      onClose();
    } catch (err) {
      if (err instanceof ApiError && Array.isArray(err.details)) useEditor.getState().setIssues(err.details as ValidationError[]);
      message.error(err instanceof ApiError && err.status === 400 ? t('publish.failed') : describeError(t, err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      title={t('publish.title')}
      open={open}
      onCancel={onClose}
      onOk={publish}
      okText={t('publish.ok')}
      confirmLoading={busy}
      okButtonProps={{ 'data-testid': 'publish-confirm' } as ButtonProps}
      destroyOnHidden
    >
      <Form layout="vertical">
        <Form.Item label={t('publish.note')}>
          <Input.TextArea value={note} onChange={(e) => setNote(e.target.value)} placeholder={t('publish.notePlaceholder')} autoSize={{ minRows: 2 }} data-testid="publish-note" />
        </Form.Item>
      </Form>
    </Modal>
  );
}
