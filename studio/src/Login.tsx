import { LockOutlined, UserOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Collapse, Form, Input, Typography } from 'antd';
import { useState } from 'react';
import { api, ApiError } from './api.js';
import { useConsole, useT, type Me } from './store.js';

export function Login() {
  const t = useT();
  const setMe = useConsole((s) => s.setMe);
  const toggleLang = useConsole((s) => s.toggleLang);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = async (body: Record<string, string>) => {
    setBusy(true);
    setError(undefined);
    try {
      setMe(await api<Me>('POST', '/login', body));
    } catch (err) {
      setError(t('login.failed', { message: err instanceof ApiError ? err.message : String(err) }));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="login">
      <Card title={t('login.title')} extra={<Button type="link" onClick={toggleLang}>{t('lang.switch')}</Button>} className="login-card">
        {error && <Alert type="error" title={error} showIcon className="gap" />}
        <Form layout="vertical" onFinish={submit} requiredMark={false}>
          <Form.Item name="username" label={t('login.username')} rules={[{ required: true }]}>
            <Input prefix={<UserOutlined />} autoComplete="username" autoFocus />
          </Form.Item>
          <Form.Item name="password" label={t('login.password')} rules={[{ required: true }]}>
            <Input.Password prefix={<LockOutlined />} autoComplete="current-password" />
          </Form.Item>
          <Button type="primary" htmlType="submit" block loading={busy}>
            {t('login.submit')}
          </Button>
        </Form>
        <Collapse
          ghost
          className="gap-top"
          items={[
            {
              key: 'token',
              label: t('login.token'),
              children: (
                <Form layout="inline" onFinish={submit}>
                  <Form.Item name="token" rules={[{ required: true }]} className="grow">
                    <Input.Password placeholder={t('login.tokenPlaceholder')} autoComplete="off" />
                  </Form.Item>
                  <Button htmlType="submit" loading={busy}>
                    {t('login.submit')}
                  </Button>
                </Form>
              ),
            },
          ]}
        />
        <Typography.Paragraph type="secondary" className="gap-top">
          {t('login.hint')}
        </Typography.Paragraph>
      </Card>
    </div>
  );
}
