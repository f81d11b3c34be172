// Pipeline templates: "{{message.text}}", "{{retrieval.context}}", "{{reply.text}}", "{{vars.x}}".
// Pure and deterministic: the workflow renders them, the validator checks the names they use.

/** The values a template may read while a run goes through its pipeline. */
export interface TemplateScope {
  message: { text: string; senderId: string; senderName?: string; channelId: string; conversationId: string };
  retrieval: { context: string };
  reply: { text: string };
  vars: Record<string, unknown>;
}

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
const NAME = /^(message\.(text|senderId|senderName|channelId|conversationId)|retrieval\.context|reply\.text|vars\.[A-Za-z_][\w-]*(\.[\w-]+)*)$/;

/** Every placeholder in the template, as written between the braces. */
export function templateNames(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]!);
}

/** Placeholders that name nothing a run has: shown to the analyst before publishing. */
export function unknownTemplateNames(template: string): string[] {
  return templateNames(template).filter((n) => !NAME.test(n));
}

/** Fills the placeholders; a missing value renders empty, objects as JSON. */
export function renderTemplate(template: string, scope: TemplateScope): string {
  return template.replace(PLACEHOLDER, (_all, name: string) => {
    if (!NAME.test(name)) return '';
    let value: unknown = scope;
    for (const key of name.split('.')) {
      value = value !== null && typeof value === 'object' && Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
    }
    if (value === undefined || value === null) return '';
    return typeof value === 'object' ? JSON.stringify(value) : String(value);
  });
}
