// One setting's form control, chosen by the catalogue's field kind. Clearing an optional setting removes
// it (the run then uses the default the catalogue names), so the saved graph only holds what was chosen.
import { Input, InputNumber, Select, Switch } from 'antd';
import type { FieldDescriptor } from '../../../../pipelines/catalogue.js';
import type { ReplyButton, TimeWindow } from '../../../../pipelines/graph.js';
import { useLang, useT } from '../i18n.js';
import { inLang } from '../nodeTypes.js';
import { useEditor } from '../store.js';
import { ArgumentsField } from './ArgumentsField.js';
import { ButtonsField } from './ButtonsField.js';
import { TemplateField } from './TemplateField.js';
import { TimeWindowField } from './TimeWindowField.js';

/** What separates keywords typed in one go: "退货，退款" or "退货、退款" become two. */
const TAG_SEPARATORS = [',', '，', '、', ';', '；'];

interface Props {
  field: FieldDescriptor;
  value: unknown;
  onChange: (value: unknown) => void;
  disabled: boolean;
}

const isEmpty = (v: unknown) => v === '' || v === null || v === undefined || (Array.isArray(v) && v.length === 0);

export function FieldControl({ field, value, onChange, disabled }: Props) {
  const t = useT();
  const lang = useLang();
  const choices = useEditor((s) => (field.lookup ? s.lookups[field.lookup] : undefined));
  const testid = `field-${field.name}`;
  const set = (v: unknown) => onChange(isEmpty(v) && !field.required ? undefined : v);
  const defaultText = field.default !== undefined && field.default !== '' ? String(field.options?.find((o) => o.value === field.default)?.label[lang === 'en' ? 'en' : 'zh'] ?? field.default) : undefined;

  switch (field.kind) {
    case 'text':
      return <Input value={(value as string) ?? ''} onChange={(e) => set(e.target.value)} placeholder={defaultText} maxLength={field.max} disabled={disabled} data-testid={testid} />;
    case 'textarea':
      return <Input.TextArea value={(value as string) ?? ''} onChange={(e) => set(e.target.value)} autoSize={{ minRows: 2, maxRows: 8 }} disabled={disabled} data-testid={testid} />;
    case 'template':
      return <TemplateField value={value as string | undefined} onChange={set} placeholder={defaultText} disabled={disabled} testid={testid} />;
    case 'number':
      return (
        <InputNumber
          value={value as number | undefined}
          onChange={(v) => set(v)}
          min={field.min}
          max={field.max}
          step={field.step}
          placeholder={defaultText}
          disabled={disabled}
          style={{ width: '100%' }}
          data-testid={testid}
        />
      );
    case 'select':
      return (
        <Select
          value={(value as string | undefined) || undefined}
          onChange={(v) => set(v)}
          options={field.options ? field.options.map((o) => ({ value: o.value, label: inLang(o.label, lang) })) : choices}
          placeholder={defaultText}
          allowClear={!field.required}
          showSearch={{ optionFilterProp: 'label' }}
          disabled={disabled}
          style={{ width: '100%' }}
          data-testid={testid}
        />
      );
    case 'multiselect':
      return (
        <Select
          mode="multiple"
          value={(value as string[] | undefined) ?? []}
          onChange={(v) => set(v)}
          options={choices}
          optionFilterProp="label"
          allowClear
          disabled={disabled}
          style={{ width: '100%' }}
          data-testid={testid}
        />
      );
    case 'tags':
      return (
        <Select
          mode="tags"
          value={(value as string[] | undefined) ?? []}
          onChange={(v) => set(v)}
          tokenSeparators={TAG_SEPARATORS}
          placeholder={t('panel.tagsHint')}
          open={false}
          suffixIcon={null}
          disabled={disabled}
          style={{ width: '100%' }}
          data-testid={testid}
        />
      );
    case 'switch':
      return <Switch checked={Boolean(value ?? field.default)} onChange={(on) => set(on || undefined)} disabled={disabled} data-testid={testid} />;
    case 'time-window':
      return <TimeWindowField value={value as TimeWindow | undefined} onChange={set} disabled={disabled} testid={testid} />;
    case 'buttons':
      return <ButtonsField value={value as ReplyButton[] | undefined} onChange={set} disabled={disabled} testid={testid} />;
    case 'key-value':
      return <ArgumentsField value={value as Record<string, string> | undefined} onChange={set} disabled={disabled} testid={testid} />;
  }
}
