// The side panel: the selected node's settings as a form generated from the catalogue's field
// descriptors, each field with its own problems under it. Rarely changed settings fold away.
import { DeleteOutlined } from '@ant-design/icons';
import { Button, Collapse, Form, Typography } from 'antd';
import { useShallow } from 'zustand/react/shallow';
import { nodeKind, type FieldDescriptor } from '../../../pipelines/catalogue.js';
import { FieldControl } from './fields/FieldControl.js';
import { useLang, useT } from './i18n.js';
import { inLang, NodeIcon } from './nodeTypes.js';
import { useEditor, type FlowNode } from './store.js';

export function NodePanel() {
  const t = useT();
  const selected = useEditor(useShallow((s) => s.nodes.filter((n) => n.selected)));
  const node = selected.length === 1 ? selected[0] : undefined;
  return (
    <aside className="pl-panel" data-testid="node-panel">
      <div className="pl-side-title">{t('panel.title')}</div>
      {node ? <NodeForm key={node.id} node={node} /> : <p className="pl-hint">{t('panel.none')}</p>}
    </aside>
  );
}

function NodeForm({ node }: { node: FlowNode }) {
  const t = useT();
  const lang = useLang();
  const kind = nodeKind(node.type);
  const readOnly = useEditor((s) => s.readOnly);
  const problems = useEditor(useShallow((s) => s.issues.filter((i) => i.nodeId === node.id)));
  const { updateData, removeNode } = useEditor.getState();

  const visible = (f: FieldDescriptor) => !f.visibleWhen || (node.data[f.visibleWhen.field] ?? kind.fields.find((x) => x.name === f.visibleWhen!.field)?.default) === f.visibleWhen.equals;
  const problemsOf = (f: FieldDescriptor) => problems.filter((p) => p.field === f.name || p.field?.startsWith(`${f.name}.`)).map((p) => p.message);
  const general = problems.filter((p) => !p.field || !kind.fields.some((f) => p.field === f.name || p.field!.startsWith(`${f.name}.`)));

  const item = (f: FieldDescriptor) => {
    const own = problemsOf(f);
    return (
      <Form.Item
        key={f.name}
        label={inLang(f.label, lang)}
        required={f.required}
        validateStatus={own.length ? 'error' : undefined}
        help={own.length ? own.join('; ') : f.help && inLang(f.help, lang)}
        data-testid={`form-item-${f.name}`}
      >
        <FieldControl field={f} value={node.data[f.name]} onChange={(v) => updateData(node.id, { [f.name]: v })} disabled={readOnly} />
      </Form.Item>
    );
  };

  const fields = kind.fields.filter(visible);
  const advanced = fields.filter((f) => f.advanced);
  return (
    <Form layout="vertical" size="small" className="pl-form" data-testid={`form-${node.id}`}>
      <div className="pl-form-head">
        <NodeIcon type={node.type} />
        <Typography.Text strong>{inLang(kind.label, lang)}</Typography.Text>
        <Typography.Text type="secondary" copyable={{ text: node.id }} className="pl-form-id">
          {node.id}
        </Typography.Text>
      </div>
      <p className="pl-hint">{inLang(kind.description, lang)}</p>
      {general.map((p, i) => (
        <Typography.Paragraph key={i} type="danger" className="pl-form-problem">
          {p.message}
        </Typography.Paragraph>
      ))}
      {fields.filter((f) => !f.advanced).map(item)}
      {advanced.length > 0 && (
        <Collapse
          ghost
          size="small"
          defaultActiveKey={advanced.some((f) => problemsOf(f).length || node.data[f.name] !== undefined) ? ['more'] : []}
          items={[{ key: 'more', label: t('panel.advanced'), children: advanced.map(item) }]}
        />
      )}
      {!readOnly && (
        <Button danger icon={<DeleteOutlined />} onClick={() => removeNode(node.id)} block data-testid="delete-node">
          {t('panel.delete')}
        </Button>
      )}
    </Form>
  );
}
