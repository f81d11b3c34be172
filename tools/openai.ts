import type { ToolConfig } from './definition.js';

// Type-only imports on purpose: the workflow builds the model request with this.

export interface OpenAiTool {
  type: 'function';
  function: { name: string; description: string; parameters: Record<string, unknown> };
}

/** The `tools` array of an OpenAI chat completion request. The model calls a tool by its name. */
export function openAiToolDefinitions(tools: readonly Pick<ToolConfig, 'name' | 'description' | 'parameters'>[]): OpenAiTool[] {
  return tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.parameters } }));
}
