// The pipelines: which exist, whether they are on, which version is published and whether the draft has
// problems. Create one here, open it in the editor, switch it on or off, or delete it.
import { PlusOutlined } from '@ant-design/icons';
import { App, Button, Form, Input, Modal, Popconfirm, Space, Switch, Table, Tag, Tooltip, Typography, type ButtonProps } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { api, describeError, type Pipeline } from './api.js';
import { useT } from './i18n.js';

export function PipelineList({ onOpen }: { onOpen: (id: string) => void }) {
  const t = useT();
  const { message } = App.useApp();
  const [pipelines, setPipelines] = useState<Pipeline[] | null>(null);
  const [creating, setCreating] = useState(false);

  const fail = useCallback((err: unknown) => message.error(describeError(t, err)), [message, t]);
  const refresh = useCallback(() => api.list().then(setPipelines, fail), [fail]);
  useEffect(() => void refresh(), [refresh]);

  const remove = (p: Pipeline) => api.remove(p.id).then(refresh, fail);
  const toggle = (p: Pipeline, enabled: boolean) => api.save(p.id, { enabled }).then(refresh, fail);

  return (
    <div className="pl-list-page" data-testid="pipeline-list">
      <div className="pl-list-head">
        {/* the console's header already names the page */}
        <Typography.Paragraph type="secondary">{t('list.hint')}</Typography.Paragraph>
        <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)} data-testid="pipeline-new">
          {t('list.new')}
        </Button>
      </div>
      <Table<Pipeline>
        rowKey="id"
        loading={pipelines === null}
        dataSource={pipelines ?? []}
        pagination={false}
        locale={{ emptyText: t('list.empty') }}
        onRow={(p) => ({ 'data-testid': `pipeline-row-${p.id}` }) as object}
        columns={[
          {
            title: t('list.name'),
            key: 'name',
            render: (_, p) => (
              <Space direction="vertical" size={0}>
                <Typography.Link onClick={() => onOpen(p.id)}>{p.name}</Typography.Link>
                {p.description && <Typography.Text type="secondary">{p.description}</Typography.Text>}
              </Space>
            ),
          },
          {
            title: t('list.status'),
            key: 'enabled',
            render: (_, p) => (
              <Switch
                checked={p.enabled}
                checkedChildren={t('list.enabled')}
                unCheckedChildren={t('list.disabled')}
                onChange={(on) => toggle(p, on)}
                data-testid={`pipeline-enabled-${p.id}`}
              />
            ),
          },
          {
            title: t('list.published'),
            key: 'published',
            render: (_, p) =>
              p.published ? (
                <Tooltip title={p.published.note}>
                  <Tag color="green">v{p.published.version}</Tag>
                  <Typography.Text type="secondary">{new Date(p.published.publishedAt).toLocaleString()}</Typography.Text>
                </Tooltip>
              ) : (
                <Tag>{t('list.notPublished')}</Tag>
              ),
          },
          {
            title: t('list.updated'),
            key: 'updated',
            render: (_, p) => (
              <Space>
                <Typography.Text type="secondary">{new Date(p.draft.updatedAt).toLocaleString()}</Typography.Text>
                {p.validation && !p.validation.ok && <Tag color="red">{t('list.invalid', { count: p.validation.errors.length })}</Tag>}
              </Space>
            ),
          },
          {
            title: t('list.actions'),
            key: 'actions',
            render: (_, p) => (
              <Space>
                <Button size="small" onClick={() => onOpen(p.id)} data-testid={`pipeline-open-${p.id}`}>
                  {t('list.open')}
                </Button>
                <Popconfirm title={t('list.deleteConfirm', { name: p.name })} onConfirm={() => remove(p)}>
                  <Button size="small" danger data-testid={`pipeline-delete-${p.id}`}>
                    {t('list.delete')}
                  </Button>
                </Popconfirm>
              </Space>
            ),
          },
        ]}
      />
      <CreateModal open={creating} onClose={() => setCreating(false)} onCreated={onOpen} />
    </div>
  );
}

function CreateModal({ open, onClose, onCreated }: { open: boolean; onClose: () => void; onCreated: (id: string) => void }) {
  const t = useT();
  const { message } = App.useApp();
  const [form] = Form.useForm<{ name: string; description?: string }>();
  const [busy, setBusy] = useState(false);

  const create = async () => {
    const { name, description } = await form.validateFields();
    setBusy(true);
    try {
      const created = await api.create({ name: name.trim(), ...(description?.trim() && { description: description.trim() }) });
      onClose();
      onCreated(created.id);
    } catch (err) {
      message.error(describeError(t, err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal title={t('create.title')} open={open} onCancel={onClose} onOk={create} okText={t('create.ok')} confirmLoading={busy} destroyOnHidden okButtonProps={{ 'data-testid': 'pipeline-create' } as ButtonProps}>
      <Form form={form} layout="vertical" preserve={false}>
        <Form.Item name="name" label={t('create.name')} rules={[{ required: true, whitespace: true }]}>
          <Input placeholder={t('create.namePlaceholder')} maxLength={100} data-testid="pipeline-name" />
        </Form.Item>
        <Form.Item name="description" label={t('create.description')}>
          <Input.TextArea autoSize={{ minRows: 2 }} maxLength={500} data-testid="pipeline-description" />
        </Form.Item>
      </Form>
    </Modal>
  );
}
