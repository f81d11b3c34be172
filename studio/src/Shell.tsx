// The layout every page shares: the side menu (entries the role may read), who is logged in, the
// language switch, and the page for the current path.
import {
  ApartmentOutlined,
  ApiOutlined,
  AuditOutlined,
  DashboardOutlined,
  ExperimentOutlined,
  LogoutOutlined,
  MessageOutlined,
  RobotOutlined,
  SettingOutlined,
  UnorderedListOutlined,
} from '@ant-design/icons';
import { Badge, Button, Layout, Menu, Space, Spin, Tag, Tooltip, Typography } from 'antd';
import { lazy, Suspense, type ReactNode } from 'react';
import type { MessageKey } from './i18n.js';
import { AuditLog } from './pages/AuditLog.js';
import { Channels } from './pages/Channels.js';
import { Dashboard } from './pages/Dashboard.js';
import { Models } from './pages/Models.js';
import { RunDetail } from './pages/RunDetail.js';
import { Runs } from './pages/Runs.js';
import { Sandbox } from './pages/Sandbox.js';
import { Settings } from './pages/Settings.js';
import { useConsole, useT } from './store.js';

// The pipeline editor is the largest part of the bundle: loaded only when opened.
const PipelineStudio = lazy(() => import('./pipelines/PipelineStudio.js'));

interface Page {
  path: string;
  label: MessageKey;
  icon: ReactNode;
  /** the API area the page reads; hidden from roles that may not */
  area: string;
  render: () => ReactNode;
}

const PAGES: Page[] = [
  { path: '/', label: 'nav.dashboard', icon: <DashboardOutlined />, area: 'runs', render: () => <Dashboard /> },
  { path: '/runs', label: 'nav.runs', icon: <UnorderedListOutlined />, area: 'runs', render: () => <Runs /> },
  { path: '/models', label: 'nav.models', icon: <RobotOutlined />, area: 'models', render: () => <Models /> },
  { path: '/channels', label: 'nav.channels', icon: <MessageOutlined />, area: 'channels', render: () => <Channels /> },
  { path: '/pipelines', label: 'nav.pipelines', icon: <ApartmentOutlined />, area: 'pipelines', render: () => <PipelineStudio /> },
  { path: '/sandbox', label: 'nav.sandbox', icon: <ExperimentOutlined />, area: 'sandbox', render: () => <Sandbox /> },
  { path: '/audit', label: 'nav.audit', icon: <AuditOutlined />, area: 'audit', render: () => <AuditLog /> },
  { path: '/settings', label: 'nav.settings', icon: <SettingOutlined />, area: 'me', render: () => <Settings /> },
];

function pageFor(path: string): { page: Page; runId?: string } {
  if (path.startsWith('/runs/')) return { page: PAGES[1]!, runId: decodeURIComponent(path.slice('/runs/'.length)) };
  return { page: PAGES.find((p) => p.path === path) ?? PAGES[0]! };
}

export function Shell() {
  const t = useT();
  const { me, path, navigate, toggleLang, logout } = useConsole();
  const connected = useConsole((s) => s.live.connected);
  const visible = PAGES.filter((p) => me?.can[p.area]?.read);
  const { page, runId } = pageFor(path);

  return (
    <Layout className="shell">
      <Layout.Sider breakpoint="lg" collapsedWidth={56} theme="light" className="shell-sider">
        <div className="brand">
          <ApiOutlined /> <span>imflow</span>
        </div>
        <Menu
          mode="inline"
          selectedKeys={[page.path]}
          items={visible.map((p) => ({ key: p.path, icon: p.icon, label: t(p.label), 'data-testid': `nav-${p.path.slice(1) || 'dashboard'}` }))}
          onClick={({ key }) => navigate(key)}
        />
      </Layout.Sider>
      <Layout>
        <Layout.Header className="shell-header">
          <Typography.Title level={4} className="shell-title">
            {t(page.label)}
          </Typography.Title>
          <Space size="middle">
            <Tooltip title={connected ? t('dash.live') : t('dash.offline')}>
              <Badge status={connected ? 'success' : 'warning'} text={connected ? t('dash.live') : ''} />
            </Tooltip>
            <span data-testid="whoami">
              {me?.user ? me.user.displayName ?? me.user.id : t('user.adminToken')} <Tag color="blue">{t(`role.${me?.role ?? 'viewer'}`)}</Tag>
            </span>
            <Button size="small" onClick={toggleLang}>
              {t('lang.switch')}
            </Button>
            <Button size="small" icon={<LogoutOutlined />} onClick={() => void logout()}>
              {t('user.logout')}
            </Button>
          </Space>
        </Layout.Header>
        <Layout.Content className="shell-content">
          <Suspense fallback={<Spin className="page-loading" />}>{runId ? <RunDetail workflowId={runId} /> : page.render()}</Suspense>
        </Layout.Content>
      </Layout>
    </Layout>
  );
}
