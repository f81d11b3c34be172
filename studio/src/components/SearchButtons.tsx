// Search and reset under a filter form (runs, audit log): reset clears the filters and searches again.
import { Button, Space, type FormInstance } from 'antd';
import { useT } from '../store.js';

export function SearchButtons({ form }: { form: FormInstance }) {
  const t = useT();
  return (
    <Space>
      <Button type="primary" htmlType="submit">
        {t('common.search')}
      </Button>
      <Button
        onClick={() => {
          form.resetFields();
          form.submit();
        }}
      >
        {t('common.reset')}
      </Button>
    </Space>
  );
}
