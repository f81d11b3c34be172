// A trigger's time window: weekdays, from–until (past midnight wraps) and the time zone they are in.
import { Checkbox, Input, Select, Space, Switch } from 'antd';
import { useMemo } from 'react';
import type { TimeWindow } from '../../../../pipelines/graph.js';
import { useT, type MessageKey } from '../i18n.js';

const DAYS = [1, 2, 3, 4, 5, 6, 7];
const DEFAULT_WINDOW: TimeWindow = { days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00', timeZone: 'Asia/Shanghai' };

interface Props {
  value: TimeWindow | undefined;
  onChange: (value: TimeWindow | undefined) => void;
  disabled?: boolean;
  testid: string;
}

export function TimeWindowField({ value, onChange, disabled, testid }: Props) {
  const t = useT();
  const zones = useMemo(() => Intl.supportedValuesOf('timeZone').map((z) => ({ value: z, label: z })), []);
  const change = (patch: Partial<TimeWindow>) => {
    const next = { ...value!, ...patch };
    // no weekday ticked would never match: every day is what the analyst means by none
    if (!next.days?.length) delete next.days;
    onChange(next);
  };

  return (
    <div data-testid={testid}>
      <Space>
        <Switch checked={Boolean(value)} onChange={(on) => onChange(on ? DEFAULT_WINDOW : undefined)} disabled={disabled} data-testid={`${testid}-on`} />
        <span>{value ? t('panel.window.add') : t('panel.window.remove')}</span>
      </Space>
      {value && (
        <div className="pl-window">
          <Checkbox.Group
            value={value.days ?? DAYS}
            onChange={(days) => change({ days: (days as number[]).length === 7 ? undefined : (days as number[]) })}
            options={DAYS.map((d) => ({ value: d, label: t(`days.${d}` as MessageKey) }))}
            disabled={disabled}
          />
          <Space.Compact block>
            <Space.Addon>{t('panel.window.start')}</Space.Addon>
            <Input type="time" value={value.start} onChange={(e) => change({ start: e.target.value })} disabled={disabled} />
            <Space.Addon>{t('panel.window.end')}</Space.Addon>
            <Input type="time" value={value.end} onChange={(e) => change({ end: e.target.value })} disabled={disabled} />
          </Space.Compact>
          <Select showSearch options={zones} value={value.timeZone} onChange={(timeZone) => change({ timeZone })} disabled={disabled} style={{ width: '100%' }} />
        </div>
      )}
    </div>
  );
}
