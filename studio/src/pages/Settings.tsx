// Settings: users and their API tokens (admin), one's own account, departments, and flow control,
// the breaker and alert targets.
import { Tabs } from 'antd';
import { useCan, useT } from '../store.js';
import { Account } from './Account.js';
import { Departments } from './Departments.js';
import { Limits } from './Limits.js';
import { Users } from './Users.js';

export function Settings() {
  const t = useT();
  const users = useCan('users').read;
  const departments = useCan('departments').read;
  return (
    <div className="page">
      <Tabs
        items={[
          ...(users ? [{ key: 'users', label: t('settings.users'), children: <Users /> }] : []),
          { key: 'account', label: t('settings.account'), children: <Account /> },
          ...(departments ? [{ key: 'departments', label: t('settings.departments'), children: <Departments /> }] : []),
          { key: 'limits', label: t('settings.limits'), children: <Limits /> },
        ]}
      />
    </div>
  );
}
