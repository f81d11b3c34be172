import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, configSchema, describeIssues, findModel, loadConfig, parseConfig } from '../runtime/config.js';

// A config in the seed's model-source shape: providers with baseUrl/apiKey/api/models, default, fallbacks,
// and one channel of each platform type.
const WECOM_AES_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG'; // 43 characters, as WeCom issues them
const VALID_YAML = `
models:
  providers:
    ollama:
      baseUrl: http://127.0.0.1:11434/v1
      apiKey: ollama-local
      api: openai-completions
      models:
        - id: qwen3:32b
          name: Qwen3 32B
          reasoning: true
          input: [text]
          contextWindow: 32768
          maxTokens: 8192
          cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 }
        - id: qwen2.5:7b
          contextWindow: 16384
          maxTokens: 2048
    vllm:
      baseUrl: https://vllm.internal.example.com/v1
      models:
        - id: deepseek-r1
          contextWindow: 65536
          maxTokens: 8192
          cost: { input: 0.55, output: 2.19 }
  default: ollama/qwen3:32b
  fallbacks:
    - ollama/qwen2.5:7b
    - vllm/deepseek-r1
channels:
  - id: dingtalk-main
    type: dingtalk
    name: 钉钉机器人
    appKey: ding-app-key
    appSecret: ding-app-secret
    robotCode: ding-robot
  - id: feishu-main
    type: feishu
    appId: cli_a1b2c3
    appSecret: feishu-secret
    verificationToken: feishu-token
    respondTo: all
  - id: wecom-main
    type: wecom
    corpId: ww0123456789
    agentId: 1000002
    secret: wecom-secret
    token: wecom-token
    encodingAESKey: ${WECOM_AES_KEY}
    groupSession: sender
`;

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imflow-config-test-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function writeTemp(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

/** A minimal valid config to break one piece at a time. */
function base(): Record<string, any> {
  return {
    models: {
      providers: {
        local: {
          baseUrl: 'http://127.0.0.1:11434/v1',
          models: [
            { id: 'big', contextWindow: 32000, maxTokens: 4096 },
            { id: 'small', contextWindow: 8000, maxTokens: 1024 },
          ],
        },
      },
      default: 'local/big',
      fallbacks: ['local/small'],
    },
    channels: [],
  };
}

/** The ConfigError message from parseConfig, or fails the test when the config is accepted. */
function errorOf(raw: unknown): string {
  try {
    parseConfig(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('config was accepted but should have been rejected');
}

describe('a valid config in the seed shape', () => {
  it('loads from a YAML file and keeps every given value', () => {
    const file = writeTemp('imflow.config.yaml', VALID_YAML);
    const { config, file: loadedFrom } = loadConfig(file);
    expect(loadedFrom).toBe(file);

    expect(Object.keys(config.models.providers).sort()).toEqual(['ollama', 'vllm']);
    const ollama = config.models.providers.ollama!;
    expect(ollama.baseUrl).toBe('http://127.0.0.1:11434/v1');
    expect(ollama.apiKey).toBe('ollama-local');
    expect(ollama.api).toBe('openai-completions');
    expect(ollama.models.map((m) => m.id)).toEqual(['qwen3:32b', 'qwen2.5:7b']);
    const qwen3 = ollama.models[0]!;
    expect(qwen3).toMatchObject({ name: 'Qwen3 32B', reasoning: true, input: ['text'], contextWindow: 32768, maxTokens: 8192 });
    expect(qwen3.cost).toEqual({ input: 0, output: 0, cacheRead: 0, cacheWrite: 0 });

    expect(config.models.default).toBe('ollama/qwen3:32b');
    expect(config.models.fallbacks).toEqual(['ollama/qwen2.5:7b', 'vllm/deepseek-r1']);
    // refs resolve to the models they name
    expect(findModel(config, 'vllm/deepseek-r1')?.contextWindow).toBe(65536);
    expect(findModel(config, 'ollama/qwen2.5:7b')?.maxTokens).toBe(2048);
    expect(findModel(config, 'ollama/deepseek-r1')).toBeUndefined();

    expect(config.channels.map((c) => [c.id, c.type])).toEqual([
      ['dingtalk-main', 'dingtalk'],
      ['feishu-main', 'feishu'],
      ['wecom-main', 'wecom'],
    ]);
    const [ding, feishu, wecom] = config.channels;
    expect(ding).toMatchObject({ name: '钉钉机器人', appKey: 'ding-app-key', appSecret: 'ding-app-secret', robotCode: 'ding-robot' });
    expect(feishu).toMatchObject({ appId: 'cli_a1b2c3', verificationToken: 'feishu-token', respondTo: 'all' });
    expect(wecom).toMatchObject({ corpId: 'ww0123456789', agentId: 1000002, encodingAESKey: WECOM_AES_KEY, groupSession: 'sender' });
  });

  it('fills the defaults that were left out', () => {
    const { config } = loadConfig(writeTemp('defaults.yaml', VALID_YAML));
    const vllm = config.models.providers.vllm!;
    expect(vllm.api).toBe('openai-completions');
    expect(vllm.apiKey).toBeUndefined();
    const r1 = vllm.models[0]!;
    expect(r1).toMatchObject({ reasoning: false, input: ['text'], timeoutMs: 120_000, firstTokenTimeoutMs: 8_000 });
    // a partial cost block is completed with zeros
    expect(r1.cost).toEqual({ input: 0.55, output: 2.19, cacheRead: 0, cacheWrite: 0 });
    // a model without a cost block has none
    expect(config.models.providers.ollama!.models[1]!.cost).toBeUndefined();

    const [ding, feishu, wecom] = config.channels;
    for (const c of config.channels) expect(c).toMatchObject({ enabled: true, groups: true, direct: true });
    expect(ding).toMatchObject({ respondTo: 'mention', groupSession: 'shared', apiBase: 'https://api.dingtalk.com', oapiBase: 'https://oapi.dingtalk.com' });
    expect(feishu).toMatchObject({ groupSession: 'shared', apiBase: 'https://open.feishu.cn' });
    expect(wecom).toMatchObject({ respondTo: 'mention', apiBase: 'https://qyapi.weixin.qq.com' });

    expect(config.pipelines).toEqual([]);
    expect(config.session.maxHistoryMessages).toBe(50);
  });

  it('loads the same config from a JSON file', () => {
    const { config: fromYaml } = loadConfig(writeTemp('same.yaml', VALID_YAML));
    const { config: fromJson } = loadConfig(writeTemp('same.json', JSON.stringify(fromYaml)));
    expect(fromJson).toEqual(fromYaml);
  });

  it('an empty config is valid and has no models or channels', () => {
    for (const raw of [undefined, null, {}]) {
      const cfg = parseConfig(raw);
      expect(cfg.models.providers).toEqual({});
      expect(cfg.models.default).toBeUndefined();
      expect(cfg.models.fallbacks).toEqual([]);
      expect(cfg.channels).toEqual([]);
    }
    // an empty YAML file parses to null
    expect(loadConfig(writeTemp('empty.yaml', '')).config.channels).toEqual([]);
  });

  it('the shipped example config is valid', () => {
    const example = fileURLToPath(new URL('../imflow.config.example.yaml', import.meta.url));
    const { config } = loadConfig(example);
    expect(config.models.default).toBeDefined();
    expect(findModel(config, config.models.default!)).toBeDefined();
    for (const ref of config.models.fallbacks) expect(findModel(config, ref), ref).toBeDefined();
  });

  it('the base fixture used below is itself valid', () => {
    expect(() => parseConfig(base())).not.toThrow();
  });
});

describe('invalid configs: the error names the key path and the problem', () => {
  it('unknown top-level key (typo "fallback")', () => {
    const raw = { ...base(), fallback: ['local/small'] };
    const msg = errorOf(raw);
    expect(msg).toMatch(/unrecognized key/i);
    expect(msg).toContain('"fallback"');
  });

  it('unknown key nested under models names the parent path', () => {
    const raw = base();
    raw.models.fallback = raw.models.fallbacks;
    delete raw.models.fallbacks;
    const msg = errorOf(raw);
    expect(msg).toMatch(/^\s*models: .*unrecognized key.*"fallback"/im);
  });

  it('models.default referring to an undefined model', () => {
    const raw = base();
    raw.models.default = 'local/huge';
    const msg = errorOf(raw);
    expect(msg).toMatch(/^\s*models\.default: .*"local\/huge".*not defined/m);
    // the fallback is fine and is not reported
    expect(msg).not.toContain('fallbacks');
  });

  it('models.default naming an unknown provider', () => {
    const raw = base();
    raw.models.default = 'nowhere/big';
    expect(errorOf(raw)).toMatch(/^\s*models\.default: .*"nowhere\/big".*not defined/m);
  });

  it('models.fallbacks[0] undefined', () => {
    const raw = base();
    raw.models.fallbacks = ['local/tiny'];
    const msg = errorOf(raw);
    expect(msg).toMatch(/^\s*models\.fallbacks\[0\]: .*"local\/tiny".*not defined/m);
    expect(msg).not.toMatch(/models\.default:/);
  });

  it('each undefined fallback is reported at its own index', () => {
    const raw = base();
    raw.models.fallbacks = ['local/small', 'local/gone', 'other/gone'];
    const msg = errorOf(raw);
    expect(msg).toMatch(/^\s*models\.fallbacks\[1\]: .*"local\/gone"/m);
    expect(msg).toMatch(/^\s*models\.fallbacks\[2\]: .*"other\/gone"/m);
    expect(msg).not.toMatch(/fallbacks\[0\]/);
  });

  it('a fallback without a default is still reported at its index', () => {
    const raw = base();
    delete raw.models.default;
    raw.models.fallbacks = ['local/gone'];
    expect(errorOf(raw)).toMatch(/^\s*models\.fallbacks\[0\]: .*"local\/gone"/m);
  });

  it('a provider baseUrl that is not a URL', () => {
    const raw = base();
    raw.models.providers.local.baseUrl = 'localhost:11434';
    expect(errorOf(raw)).toMatch(/^\s*models\.providers\.local\.baseUrl: .*url/im);
    raw.models.providers.local.baseUrl = 'not a url at all';
    expect(errorOf(raw)).toMatch(/^\s*models\.providers\.local\.baseUrl: .*url/im);
  });

  it('a channel with a bad type', () => {
    const raw = base();
    raw.channels = [{ id: 'ok', type: 'sandbox' }, { id: 'slack', type: 'slack' }];
    const msg = errorOf(raw);
    expect(msg).toMatch(/^\s*channels\[1\]\.type: /m);
    // it says what would have been accepted
    for (const t of ['dingtalk', 'feishu', 'wecom']) expect(msg).toContain(t);
  });

  it('a duplicate channel id', () => {
    const raw = base();
    raw.channels = [
      { id: 'team', type: 'dingtalk' },
      { id: 'other', type: 'feishu' },
      { id: 'team', type: 'wecom' },
    ];
    const msg = errorOf(raw);
    expect(msg).toMatch(/^\s*channels\[2\]\.id: .*duplicate.*"team"/m);
    expect(msg).not.toMatch(/channels\[0\]/);
  });

  it('wecom encodingAESKey of the wrong length', () => {
    for (const key of [WECOM_AES_KEY.slice(1), WECOM_AES_KEY + 'x']) {
      const raw = base();
      raw.channels = [{ id: 'wx', type: 'wecom', encodingAESKey: key }];
      const msg = errorOf(raw);
      expect(msg).toMatch(/^\s*channels\[0\]\.encodingAESKey: .*43/m);
    }
    const ok = base();
    ok.channels = [{ id: 'wx', type: 'wecom', encodingAESKey: WECOM_AES_KEY }];
    expect(() => parseConfig(ok)).not.toThrow();
  });

  it('respondTo: sometimes', () => {
    const raw = base();
    raw.channels = [{ id: 'fs', type: 'feishu', respondTo: 'sometimes' }];
    const msg = errorOf(raw);
    expect(msg).toMatch(/^\s*channels\[0\]\.respondTo: /m);
    expect(msg).toContain('mention');
    expect(msg).toContain('all');
  });

  it('maxTokens that leaves no room for the prompt (>= contextWindow)', () => {
    for (const maxTokens of [8000, 9000]) {
      const raw = base();
      raw.models.providers.local.models[1].maxTokens = maxTokens; // small has contextWindow 8000
      expect(errorOf(raw)).toMatch(/^\s*models\.providers\.local\.models\[1\]\.maxTokens: .*contextWindow/m);
    }
    // the default maxTokens (2048) against a small window that was set explicitly
    const raw = base();
    raw.models.providers.local.models[1] = { id: 'small', contextWindow: 1024 };
    expect(errorOf(raw)).toMatch(/models\[1\]\.maxTokens: /);
    // one less is accepted
    const ok = base();
    ok.models.providers.local.models[1].maxTokens = 7999;
    expect(findModel(parseConfig(ok), 'local/small')?.maxTokens).toBe(7999);
  });

  it('several problems are reported together, one line each', () => {
    const raw = base();
    raw.models.providers.local.baseUrl = 'nope';
    raw.channels = [{ id: 'x', type: 'feishu', respondTo: 'sometimes' }];
    const lines = errorOf(raw).split('\n').slice(1);
    expect(lines).toHaveLength(2);
    expect(lines.some((l) => l.includes('models.providers.local.baseUrl'))).toBe(true);
    expect(lines.some((l) => l.includes('channels[0].respondTo'))).toBe(true);
  });

  it('cross-reference problems are reported together too', () => {
    const raw = base();
    raw.models.default = 'local/nope';
    raw.models.fallbacks = ['local/gone'];
    raw.channels = [{ id: 'x', type: 'sandbox' }, { id: 'x', type: 'sandbox' }];
    const lines = errorOf(raw).split('\n').slice(1);
    expect(lines.map((l) => l.trim().split(':')[0]).sort()).toEqual(['channels[1].id', 'models.default', 'models.fallbacks[0]']);
  });
});

describe('loadConfig file errors', () => {
  it('a file that is not valid YAML', () => {
    const file = writeTemp('broken.yaml', 'models:\n  providers: [unclosed\n  default: "x\n');
    expect(() => loadConfig(file)).toThrow(ConfigError);
    expect(() => loadConfig(file)).toThrow(/not valid YAML/);
    expect(() => loadConfig(file)).toThrow(file);
  });

  it('a file that is not valid JSON', () => {
    const file = writeTemp('broken.json', '{ "models": { "providers": {} }, }');
    expect(() => loadConfig(file)).toThrow(ConfigError);
    expect(() => loadConfig(file)).toThrow(/not valid JSON/);
    expect(() => loadConfig(file)).toThrow(file);
  });

  it('a missing file', () => {
    const file = path.join(dir, 'does-not-exist.yaml');
    expect(() => loadConfig(file)).toThrow(ConfigError);
    expect(() => loadConfig(file)).toThrow(`cannot read config file ${file}`);
  });

  it('a parseable file with an invalid config names the file and the key', () => {
    const file = writeTemp('bad-key.yaml', VALID_YAML.replace('respondTo: all', 'respondTo: sometimes'));
    let msg = '';
    try {
      loadConfig(file);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      msg = (e as Error).message;
    }
    expect(msg).toContain(file);
    expect(msg).toMatch(/channels\[1\]\.respondTo: /);
  });

  it('a YAML file whose document is not a mapping', () => {
    const file = writeTemp('scalar.yaml', 'just a string\n');
    expect(() => loadConfig(file)).toThrow(/\(root\): /);
  });
});

describe('describeIssues', () => {
  it('formats array indices in brackets and keys with dots', () => {
    const text = describeIssues([
      { code: 'custom', path: ['channels', 1, 'id'], message: 'first', input: undefined },
      { code: 'custom', path: ['models', 'providers', 'a.b', 'models', 0, 'cost', 'input'], message: 'second', input: undefined },
      { code: 'custom', path: ['matrix', 2, 3], message: 'third', input: undefined },
      { code: 'custom', path: [], message: 'fourth', input: undefined },
    ]);
    expect(text.split('\n')).toEqual([
      '  channels[1].id: first',
      '  models.providers.a.b.models[0].cost.input: second',
      '  matrix[2][3]: third',
      '  (root): fourth',
    ]);
  });

  it('formats real validation issues the same way', () => {
    const raw = base();
    raw.channels = [{ id: 'a', type: 'sandbox' }, { id: 'Bad Id!', type: 'sandbox' }];
    const res = configSchema.safeParse(raw);
    expect(res.success).toBe(false);
    expect(describeIssues(res.error!.issues)).toMatch(/^ {2}channels\[1\]\.id: /);
  });
});
