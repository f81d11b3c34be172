// The buttons under a reply: a text each and, optionally, a link.
import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import { Button, Input, Space } from 'antd';
import type { ReplyButton } from '../../../../pipelines/graph.js';
import { useT } from '../i18n.js';

interface Props {
  value: ReplyButton[] | undefined;
  onChange: (value: ReplyButton[] | undefined) => void;
  disabled?: boolean;
  testid: string;
}

export function ButtonsField({ value = [], onChange, disabled, testid }: Props) {
  const t = useT();
  const change = (i: number, patch: Partial<ReplyButton>) =>
    onChange(
      value.map((b, j) => {
        if (j !== i) return b;
        const next = { ...b, ...patch };
        if (!next.url) delete next.url;
        return next;
      }),
    );
  const remove = (i: number) => {
    const rest = value.filter((_, j) => j !== i);
    onChange(rest.length ? rest : undefined);
  };

  return (
    <div className="pl-list" data-testid={testid}>
      {value.map((b, i) => (
        <Space.Compact key={i} block className="pl-list-row">
          <Input value={b.label} placeholder={t('panel.buttonLabel')} onChange={(e) => change(i, { label: e.target.value })} disabled={disabled} data-testid={`${testid}-${i}-label`} />
          <Input value={b.url ?? ''} placeholder={t('panel.buttonUrl')} onChange={(e) => change(i, { url: e.target.value })} disabled={disabled} data-testid={`${testid}-${i}-url`} />
          <Button icon={<DeleteOutlined />} onClick={() => remove(i)} disabled={disabled} aria-label="remove" />
        </Space.Compact>
      ))}
      <Button icon={<PlusOutlined />} type="dashed" block onClick={() => onChange([...value, { label: '' }])} disabled={disabled} data-testid={`${testid}-add`}>
        {t('panel.addButton')}
      </Button>
    </div>
  );
}
