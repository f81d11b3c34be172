// How each node type looks: its icon and colour, and its name in the console's language (from the catalogue).
import {
  BookOutlined,
  BranchesOutlined,
  CustomerServiceOutlined,
  MessageOutlined,
  RobotOutlined,
  StopOutlined,
  ThunderboltOutlined,
  ToolOutlined,
} from '@ant-design/icons';
import type { ComponentType } from 'react';
import { nodeKind, type Text } from '../../../pipelines/catalogue.js';
import type { NodeType } from '../../../pipelines/graph.js';
import { useLang, type Lang } from './i18n.js';

const ICONS: Record<NodeType, ComponentType> = {
  trigger: ThunderboltOutlined,
  retrieve: BookOutlined,
  llm: RobotOutlined,
  tool: ToolOutlined,
  condition: BranchesOutlined,
  reply: MessageOutlined,
  handoff: CustomerServiceOutlined,
  end: StopOutlined,
};

const COLORS: Record<NodeType, string> = {
  trigger: '#fa8c16',
  retrieve: '#13c2c2',
  llm: '#2f54eb',
  tool: '#722ed1',
  condition: '#faad14',
  reply: '#52c41a',
  handoff: '#eb2f96',
  end: '#8c8c8c',
};

export const nodeColor = (type: NodeType) => COLORS[type];

export function NodeIcon({ type }: { type: NodeType }) {
  const Icon = ICONS[type];
  return (
    <span className="pl-node-icon" style={{ color: COLORS[type] }}>
      <Icon />
    </span>
  );
}

/** A catalogue text in the given language. */
export const inLang = (text: Text, lang: Lang) => (lang === 'en' ? text.en : text.zh);

export function useTypeLabel(type: NodeType): string {
  return inLang(nodeKind(type).label, useLang());
}
