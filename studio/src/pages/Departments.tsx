// Departments: what each may use (knowledge bases, tools, pipelines) and who is in it. Members are
// edited as lines "senderId[,channelId[,role]]" so a list can be pasted from a directory export.
import { EditOutlined, PlusOutlined, DeleteOutlined } from '@ant-design/icons';
import { Alert, App, Button, Form, Input, Modal, Popconfirm, Select, Space, Table, Tag } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { api, ApiError, get } from '../api.js';
import { useCan, useT } from '../store.js';

interface Department {
  id: string;
  name: string;
  knowledgeBases: string[];
  tools: string[];
  pipelines: string[];
  source: string;
  members: number;
}
interface Member {
  senderId: string;
  channelId: string;
  role?: string | null;
}
interface DepartmentForm {
  id: string;
  name: string;
  knowledgeBases: string[];
  tools: string[];
  pipelines: string[];
  members: string;
}

const toLines = (members: Member[]) => members.map((m) => [m.senderId, m.channelId, m.role].filter(Boolean).join(',')).join('\n');
const fromLines = (text: string): Member[] =>
  text
    .split('\n')
    .map((l) => l.split(',').map((x) => x.trim()))
    .filter(([sender]) => sender)
    .map(([senderId, channelId, role]) => ({ senderId: senderId!, channelId: channelId || '*', ...(role && { role }) }));

export function Departments() {
  const t = useT();
  const { message } = App.useApp();
  const canWrite = useCan('departments').write;
  const [departments, setDepartments] = useState<Department[]>();
  const [unavailable, setUnavailable] = useState(false);
  const [options, setOptions] = useState<{ knowledgeBases: string[]; tools: string[]; pipelines: string[] }>({ knowledgeBases: [], tools: [], pipelines: [] });
  const [editing, setEditing] = useState<Partial<DepartmentForm> & { isNew: boolean }>();
  const [form] = Form.useForm<DepartmentForm>();

  const load = useCallback(() => get<Department[]>('/departments').then(setDepartments, () => setUnavailable(true)), []);
  useEffect(() => {
    void load();
    void Promise.all([
      get<{ knowledgeBases: { id: string }[] }>('/knowledge-bases').then((r) => r.knowledgeBases.map((k) => k.id), () => []),
      get<{ tools: { id: string }[] }>('/tools').then((r) => r.tools.map((k) => k.id), () => []),
      get<{ id: string }[]>('/pipelines').then((r) => r.map((k) => k.id), () => []),
    ]).then(([knowledgeBases, tools, pipelines]) => setOptions({ knowledgeBases, tools, pipelines }));
  }, [load]);
  const fail = (err: unknown) => message.error(err instanceof ApiError ? err.message : String(err));

  const edit = async (d?: Department) => {
    if (!d) return setEditing({ isNew: true, knowledgeBases: [], tools: [], pipelines: [], members: '' });
    const full = await get<Department & { memberList: Member[] }>(`/departments/${encodeURIComponent(d.id)}`);
    setEditing({ isNew: false, ...full, members: toLines(full.memberList) });
  };

  const save = async (f: DepartmentForm) => {
    const grants = { name: f.name, knowledgeBases: f.knowledgeBases ?? [], tools: f.tools ?? [], pipelines: f.pipelines ?? [] };
    try {
      if (editing?.isNew) await api('POST', '/departments', { id: f.id, ...grants, members: fromLines(f.members ?? '') });
      else {
        await api('PUT', `/departments/${encodeURIComponent(f.id)}`, grants);
        await api('PUT', `/departments/${encodeURIComponent(f.id)}/members`, { members: fromLines(f.members ?? '') });
      }
      setEditing(undefined);
      message.success(t('common.saved'));
      await load();
    } catch (err) {
      fail(err);
    }
  };

  if (unavailable) return <Alert type="info" showIcon title={t('departments.unavailable')} />;
  const tags = (ids: string[]) => ids.map((id) => <Tag key={id}>{id}</Tag>);

  return (
    <>
      {canWrite && (
        <Button type="primary" icon={<PlusOutlined />} className="gap" onClick={() => void edit()}>
          {t('departments.add')}
        </Button>
      )}
      <Table<Department>
        size="small"
        rowKey="id"
        loading={!departments}
        pagination={false}
        dataSource={departments}
        columns={[
          { title: t('common.id'), dataIndex: 'id' },
          { title: t('common.name'), dataIndex: 'name' },
          { title: t('departments.members'), dataIndex: 'members' },
          { title: t('departments.knowledgeBases'), dataIndex: 'knowledgeBases', render: tags },
          { title: t('departments.tools'), dataIndex: 'tools', render: tags },
          { title: t('departments.pipelines'), dataIndex: 'pipelines', render: tags },
          ...(canWrite
            ? [
                {
                  title: t('common.actions'),
                  render: (_: unknown, d: Department) => (
                    <Space>
                      <Button size="small" icon={<EditOutlined />} onClick={() => void edit(d).catch(fail)} />
                      <Popconfirm title={t('common.confirmDelete', { name: d.id })} onConfirm={() => api('DELETE', `/departments/${encodeURIComponent(d.id)}`).then(load, fail)}>
                        <Button size="small" danger icon={<DeleteOutlined />} />
                      </Popconfirm>
                    </Space>
                  ),
                },
              ]
            : []),
        ]}
      />
      {editing && (
        <Modal open width={640} title={editing.isNew ? t('departments.add') : editing.id} onCancel={() => setEditing(undefined)} onOk={() => form.submit()} okText={t('common.save')} destroyOnHidden>
          <Form form={form} layout="vertical" initialValues={editing} onFinish={save} preserve={false}>
            <Form.Item name="id" label={t('common.id')} rules={[{ required: true }]}>
              <Input disabled={!editing.isNew} />
            </Form.Item>
            <Form.Item name="name" label={t('common.name')} rules={[{ required: true }]}>
              <Input />
            </Form.Item>
            {(['knowledgeBases', 'tools', 'pipelines'] as const).map((k) => (
              <Form.Item key={k} name={k} label={t(`departments.${k}`)}>
                <Select mode="multiple" options={options[k].map((id) => ({ value: id, label: id }))} />
              </Form.Item>
            ))}
            <Form.Item name="members" label={t('departments.members')} extra={t('departments.membersHint')}>
              <Input.TextArea rows={6} className="mono" />
            </Form.Item>
          </Form>
        </Modal>
      )}
    </>
  );
}
