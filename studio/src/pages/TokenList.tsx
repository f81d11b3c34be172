// API tokens of one user: created (shown once), listed by their first characters, revoked.
import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import { Alert, App, Button, Form, Input, Popconfirm, Table, Typography } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { api, ApiError, get } from '../api.js';
import { time } from '../components/format.js';
import { useT } from '../store.js';

interface Token {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
}

/** `base`: "/me" for one's own tokens, "/users/<id>" for an admin managing someone else's. */
export function TokenList({ base }: { base: string }) {
  const t = useT();
  const { message } = App.useApp();
  const [tokens, setTokens] = useState<Token[]>([]);
  const [created, setCreated] = useState<string>();
  const [form] = Form.useForm<{ name: string }>();

  const load = useCallback(() => get<{ tokens: Token[] }>(`${base}/tokens`).then((r) => setTokens(r.tokens)), [base]);
  useEffect(() => {
    void load();
  }, [load]);
  const fail = (err: unknown) => message.error(err instanceof ApiError ? err.message : String(err));

  return (
    <>
      {created && (
        <Alert
          type="warning"
          showIcon
          className="gap"
          title={t('users.tokenOnce')}
          description={<Typography.Text code copyable data-testid="new-token">{created}</Typography.Text>}
          closable={{ onClose: () => setCreated(undefined) }}
        />
      )}
      <Form
        form={form}
        layout="inline"
        className="gap"
        onFinish={async ({ name }) => {
          try {
            setCreated((await api<{ token: string }>('POST', `${base}/tokens`, { name })).token);
            form.resetFields();
            await load();
          } catch (err) {
            fail(err);
          }
        }}
      >
        <Form.Item name="name" rules={[{ required: true }]}>
          <Input placeholder={t('users.tokenName')} />
        </Form.Item>
        <Button htmlType="submit" icon={<PlusOutlined />}>
          {t('users.createToken')}
        </Button>
      </Form>
      <Table
        size="small"
        rowKey="id"
        pagination={false}
        dataSource={tokens}
        columns={[
          { title: t('users.tokenName'), dataIndex: 'name' },
          { title: 'prefix', dataIndex: 'prefix', render: (p: string) => <Typography.Text code>{p}…</Typography.Text> },
          { title: t('common.time'), dataIndex: 'createdAt', render: time },
          { title: t('users.lastLogin'), dataIndex: 'lastUsedAt', render: time },
          {
            title: t('common.actions'),
            render: (_, tok) => (
              <Popconfirm
                title={t('common.confirmDelete', { name: tok.name })}
                onConfirm={() => api('DELETE', `${base}/tokens/${tok.id}`).then(load, fail)}
              >
                <Button size="small" danger icon={<DeleteOutlined />} />
              </Popconfirm>
            ),
          },
        ]}
      />
    </>
  );
}
