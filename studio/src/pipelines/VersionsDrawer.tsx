// Version history: every published version with its note; view one read-only on the canvas, or roll
// back, which publishes that version again as the newest one.
import { App, Button, Card, Drawer, Empty, Flex, Popconfirm, Space, Spin, Tag, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { api, describeError, type PipelineVersion } from './api.js';
import { useT } from './i18n.js';
import { useEditor } from './store.js';

interface Props {
  open: boolean;
  onClose: () => void;
  pipelineId: string;
  publishedVersion: number | undefined;
  onRolledBack: () => void;
  /** the version on the canvas, if one is being viewed */
  viewing: number | null;
  onView: (version: number | null) => void;
}

export function VersionsDrawer({ open, onClose, pipelineId, publishedVersion, onRolledBack, viewing, onView }: Props) {
  const t = useT();
  const { message } = App.useApp();
  const [versions, setVersions] = useState<PipelineVersion[] | null>(null);

  useEffect(() => {
    if (!open) return;
    let stale = false;
    api.versions(pipelineId).then(
      (list) => !stale && setVersions([...list].sort((a, b) => b.version - a.version)),
      (err: unknown) => message.error(describeError(t, err)),
    );
    return () => {
      stale = true;
    };
  }, [open, pipelineId, publishedVersion, t, message]);

  const view = async (version: number) => {
    try {
      const v = await api.version(pipelineId, version);
      if (v.graph) {
        useEditor.getState().viewVersion(v.graph);
        onView(version);
      }
    } catch (err) {
      message.error(describeError(t, err));
    }
  };

  const rollback = async (version: number) => {
    try {
      await api.rollback(pipelineId, version);
      message.success(t('versions.rolledBack', { version }));
      onRolledBack();
    } catch (err) {
      message.error(describeError(t, err));
    }
  };

  return (
    <Drawer
      title={t('versions.title')}
      open={open}
      onClose={onClose}
      size={420}
      mask={false}
      data-testid="versions-drawer"
      extra={
        viewing !== null && (
          <Button size="small" onClick={() => onView(null)} data-testid="versions-back-to-draft">
            {t('versions.backToDraft')}
          </Button>
        )
      }
    >
      {versions === null && <Spin />}
      {versions?.length === 0 && <Empty description={t('versions.empty')} />}
      <Flex vertical gap={8}>
        {versions?.map((v) => (
          <Card
            key={v.version}
            size="small"
            data-testid={`version-${v.version}`}
            title={
              <Space>
                <span>v{v.version}</span>
                {v.version === publishedVersion && <Tag color="green">{t('versions.current')}</Tag>}
              </Space>
            }
            extra={
              <Space>
                <Button size="small" type={viewing === v.version ? 'primary' : 'default'} onClick={() => view(v.version)} data-testid={`version-${v.version}-view`}>
                  {t('versions.view')}
                </Button>
                {v.version !== publishedVersion && (
                  <Popconfirm title={t('versions.rollbackConfirm', { version: v.version })} onConfirm={() => rollback(v.version)}>
                    <Button size="small" data-testid={`version-${v.version}-rollback`}>
                      {t('versions.rollback')}
                    </Button>
                  </Popconfirm>
                )}
              </Space>
            }
          >
            <Typography.Text type="secondary">{new Date(v.publishedAt).toLocaleString()}</Typography.Text>
            {v.note && <Typography.Paragraph className="pl-version-note">{v.note}</Typography.Paragraph>}
          </Card>
        ))}
      </Flex>
    </Drawer>
  );
}
