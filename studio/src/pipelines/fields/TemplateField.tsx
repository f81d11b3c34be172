// A template text area: the {{…}} names a run has are listed under it; clicking one puts it at the cursor.
// A misspelt name is reported by the validation on this field, like every other problem.
import { Input, Tag, type GetRef } from 'antd';
import { useRef } from 'react';
import { useT } from '../i18n.js';
import { useEditor } from '../store.js';

const RUN_NAMES = ['message.text', 'message.senderName', 'retrieval.context', 'reply.text'];

/** The variables tool nodes on the canvas keep their results in: {{vars.<saveAs or node id>}}. */
function useVariableNames(): string[] {
  const names = useEditor((s) =>
    s.nodes
      .filter((n) => n.type === 'tool')
      .map((n) => `vars.${typeof n.data.saveAs === 'string' && n.data.saveAs ? n.data.saveAs : n.id}`)
      .join('\n'),
  );
  return names ? names.split('\n') : [];
}

interface Props {
  value: string | undefined;
  onChange: (value: string) => void;
  placeholder?: string;
  disabled?: boolean;
  testid: string;
}

export function TemplateField({ value, onChange, placeholder, disabled, testid }: Props) {
  const t = useT();
  const ref = useRef<GetRef<typeof Input.TextArea>>(null);
  const names = [...RUN_NAMES, ...useVariableNames()];

  const insert = (name: string) => {
    const area = ref.current?.resizableTextArea?.textArea;
    const text = value ?? '';
    const at = area ? area.selectionStart : text.length;
    const end = area ? area.selectionEnd : text.length;
    onChange(`${text.slice(0, at)}{{${name}}}${text.slice(end)}`);
  };

  return (
    <div className="pl-template">
      <Input.TextArea
        ref={ref}
        value={value ?? ''}
        placeholder={placeholder}
        onChange={(e) => onChange(e.target.value)}
        autoSize={{ minRows: 2, maxRows: 10 }}
        disabled={disabled}
        data-testid={testid}
      />
      <div className="pl-template-names">
        <span className="pl-hint">{t('panel.templateHint')}</span>
        {names.map((name) => (
          <Tag key={name} className="pl-template-name" onClick={() => !disabled && insert(name)}>
            {`{{${name}}}`}
          </Tag>
        ))}
      </div>
    </div>
  );
}
