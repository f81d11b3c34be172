// Console users (admin only): roles, disabling, password resets, and their API tokens.
import { EditOutlined, KeyOutlined, PlusOutlined, DeleteOutlined } from '@ant-design/icons';
import { Alert, App, Button, Drawer, Form, Input, Modal, Popconfirm, Select, Space, Switch, Table, Tag } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { api, ApiError, get } from '../api.js';
import { time } from '../components/format.js';
import type { MessageKey } from '../i18n.js';
import { useT, type Role } from '../store.js';
import { TokenList } from './TokenList.js';

interface User {
  id: string;
  displayName: string | null;
  role: Role;
  disabled: boolean;
  lastLoginAt: string | null;
}

const ROLES: Role[] = ['admin', 'analyst', 'viewer', 'auditor'];

export function Users() {
  const t = useT();
  const { message } = App.useApp();
  const [users, setUsers] = useState<User[]>([]);
  const [editing, setEditing] = useState<User | 'new'>();
  const [tokensOf, setTokensOf] = useState<string>();
  const [form] = Form.useForm();

  const load = useCallback(() => get<{ users: User[] }>('/users').then((r) => setUsers(r.users)), []);
  useEffect(() => {
    void load();
  }, [load]);
  const fail = (err: unknown) => message.error(err instanceof ApiError ? err.message : String(err));

  const save = async (f: { id: string; displayName?: string; role: Role; password?: string }) => {
    try {
      if (editing === 'new') await api('POST', '/users', { id: f.id, role: f.role, password: f.password, ...(f.displayName && { displayName: f.displayName }) });
      else if (editing) await api('PUT', `/users/${editing.id}`, { role: f.role, displayName: f.displayName || null, ...(f.password && { password: f.password }) });
      setEditing(undefined);
      message.success(t('common.saved'));
      await load();
    } catch (err) {
      fail(err);
    }
  };

  return (
    <>
      <Alert type="info" showIcon className="gap" title={t('users.roles')} />
      <Button type="primary" icon={<PlusOutlined />} className="gap" onClick={() => setEditing('new')}>
        {t('users.add')}
      </Button>
      <Table<User>
        size="small"
        rowKey="id"
        pagination={false}
        dataSource={users}
        columns={[
          { title: t('users.id'), dataIndex: 'id' },
          { title: t('users.displayName'), dataIndex: 'displayName' },
          { title: t('users.role'), dataIndex: 'role', render: (r: Role) => <Tag color="blue">{t(`role.${r}` as MessageKey)}</Tag> },
          {
            title: t('users.disabled'),
            dataIndex: 'disabled',
            render: (d: boolean, u) => <Switch checked={d} size="small" onChange={(v) => api('PUT', `/users/${u.id}`, { disabled: v }).then(load, fail)} />,
          },
          { title: t('users.lastLogin'), dataIndex: 'lastLoginAt', render: time },
          {
            title: t('common.actions'),
            render: (_, u) => (
              <Space>
                <Button size="small" icon={<EditOutlined />} onClick={() => setEditing(u)} />
                <Button size="small" icon={<KeyOutlined />} onClick={() => setTokensOf(u.id)} title={t('users.tokens')} />
                <Popconfirm title={t('common.confirmDelete', { name: u.id })} onConfirm={() => api('DELETE', `/users/${u.id}`).then(load, fail)}>
                  <Button size="small" danger icon={<DeleteOutlined />} />
                </Popconfirm>
              </Space>
            ),
          },
        ]}
      />
      {editing && (
        <Modal open title={editing === 'new' ? t('users.add') : editing.id} onCancel={() => setEditing(undefined)} onOk={() => form.submit()} okText={t('common.save')} destroyOnHidden>
          <Form form={form} layout="vertical" onFinish={save} initialValues={editing === 'new' ? { role: 'viewer' } : editing} preserve={false}>
            <Form.Item name="id" label={t('users.id')} rules={[{ required: true, pattern: /^[a-z0-9][a-z0-9._-]{1,63}$/ }]}>
              <Input disabled={editing !== 'new'} />
            </Form.Item>
            <Form.Item name="displayName" label={t('users.displayName')}>
              <Input />
            </Form.Item>
            <Form.Item name="role" label={t('users.role')}>
              <Select options={ROLES.map((r) => ({ value: r, label: t(`role.${r}` as MessageKey) }))} />
            </Form.Item>
            <Form.Item name="password" label={editing === 'new' ? t('users.password') : t('users.newPassword')} rules={[{ required: editing === 'new', min: 10 }]}>
              <Input.Password autoComplete="new-password" />
            </Form.Item>
          </Form>
        </Modal>
      )}
      {tokensOf && (
        <Drawer open size="large" title={`${t('users.tokens')} · ${tokensOf}`} onClose={() => setTokensOf(undefined)}>
          <TokenList base={`/users/${tokensOf}`} />
        </Drawer>
      )}
    </>
  );
}
