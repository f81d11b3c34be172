// A tool's arguments: name → value, each value a template such as {{vars.orderNo}}.
import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import { Button, Input, Space } from 'antd';
import { useT } from '../i18n.js';

interface Props {
  value: Record<string, string> | undefined;
  onChange: (value: Record<string, string>) => void;
  disabled?: boolean;
  testid: string;
}

export function ArgumentsField({ value = {}, onChange, disabled, testid }: Props) {
  const t = useT();
  const rows = Object.entries(value);
  const setRows = (next: [string, string][]) => onChange(Object.fromEntries(next));

  return (
    <div className="pl-list" data-testid={testid}>
      {rows.map(([name, template], i) => (
        <Space.Compact key={i} block className="pl-list-row">
          <Input
            value={name}
            placeholder={t('panel.argumentName')}
            onChange={(e) => setRows(rows.map((r, j) => (j === i ? [e.target.value, r[1]] : r)))}
            disabled={disabled}
            style={{ width: '40%' }}
          />
          <Input
            value={template}
            placeholder={t('panel.argumentValue')}
            onChange={(e) => setRows(rows.map((r, j) => (j === i ? [r[0], e.target.value] : r)))}
            disabled={disabled}
          />
          <Button icon={<DeleteOutlined />} onClick={() => setRows(rows.filter((_, j) => j !== i))} disabled={disabled} aria-label="remove" />
        </Space.Compact>
      ))}
      <Button
        icon={<PlusOutlined />}
        type="dashed"
        block
        // a row needs a name to exist in the record: start with a numbered one the analyst renames
        onClick={() => setRows([...rows, [`arg${rows.length + 1}`, '']])}
        disabled={disabled}
      >
        {t('panel.addArgument')}
      </Button>
    </div>
  );
}
