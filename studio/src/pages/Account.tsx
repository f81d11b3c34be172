// One's own password and API tokens. The admin token has neither: it says so.
import { Alert, App, Button, Card, Form, Input } from 'antd';
import { api, ApiError } from '../api.js';
import { useConsole, useT } from '../store.js';
import { TokenList } from './TokenList.js';

export function Account() {
  const t = useT();
  const { message } = App.useApp();
  const me = useConsole((s) => s.me);
  const [form] = Form.useForm<{ current: string; password: string }>();
  if (!me?.user) return <Alert type="info" showIcon title={t('users.adminTokenAccount')} />;
  return (
    <>
      <Card size="small" title={t('users.changePassword')} className="gap">
        <Form
          form={form}
          layout="inline"
          onFinish={async (f) => {
            try {
              await api('PUT', '/me/password', f);
              message.success(t('common.saved'));
              form.resetFields();
            } catch (err) {
              message.error(err instanceof ApiError ? err.message : String(err));
            }
          }}
        >
          <Form.Item name="current" rules={[{ required: true }]}>
            <Input.Password placeholder={t('users.currentPassword')} autoComplete="current-password" />
          </Form.Item>
          <Form.Item name="password" rules={[{ required: true, min: 10 }]}>
            <Input.Password placeholder={t('users.password')} autoComplete="new-password" />
          </Form.Item>
          <Button type="primary" htmlType="submit">
            {t('common.save')}
          </Button>
        </Form>
      </Card>
      <Card size="small" title={t('users.tokens')}>
        <TokenList base="/me" />
      </Card>
    </>
  );
}
