import { describe, expect, it } from 'vitest';
import { buildPrompt, estimateTokens, type PromptInput } from '../activities/prompt.js';
import type { ChatMessage } from '../workflows/types.js';
import { estimateTokens as fakeServerTokens } from './fakes/model-server.js';

const TRUNCATED = '[…truncated]';

/** The module's own size of a prompt: its text estimate plus the per-message overhead it documents (4). */
const moduleTokens = (messages: ChatMessage[]) => messages.reduce((n, m) => n + estimateTokens(m.content) + 4, 0);

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function turns(n: number, text: (i: number) => string, firstRole: 'user' | 'assistant' = 'user'): ChatMessage[] {
  const other = firstRole === 'user' ? 'assistant' : 'user';
  return Array.from({ length: n }, (_, i) => ({ role: i % 2 === 0 ? firstRole : other, content: text(i) }));
}

/** mulberry32: a small seeded PRNG so the random cases are the same on every run. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  return { next, int, pick };
}

const HAN = '的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴乐';
const RARE_HAN = ['𠮷', '𩸽', '𡈽', '𤭢', '𪚥']; // outside the BMP: two UTF-16 units each
const ENGLISH = ['the', 'deploy', 'pipeline', 'Temporal', 'workflow', 'error', 'retry', 'config.yaml', 'GPU', 'vLLM', 'latency', 'p99', 'OK', 'thanks', 'https://example.com/a?b=c', '42', '3.14'];
const PUNCT = ['，', '。', '？', '！', '：', '「', '」', '（', '）', ', ', '. ', '? ', '\n', ' ', '  ', '🙂', '👍🏽', '—', '…', '`code`'];

function randomText(r: ReturnType<typeof prng>, maxPieces: number): string {
  const n = r.int(0, maxPieces);
  let s = '';
  for (let i = 0; i < n; i++) {
    const k = r.next();
    if (k < 0.45) {
      const len = r.int(1, 12);
      for (let j = 0; j < len; j++) s += r.next() < 0.03 ? r.pick(RARE_HAN) : r.pick([...HAN]);
    } else if (k < 0.85) s += r.pick(ENGLISH) + ' ';
    else s += r.pick(PUNCT);
  }
  return s;
}

describe('estimateTokens', () => {
  it('counts one token per CJK character', () => {
    expect(estimateTokens('你好世界')).toBe(4);
    expect(estimateTokens('中'.repeat(1000))).toBe(1000);
    // kana, hangul, full-width punctuation
    expect(estimateTokens('ありがとう')).toBe(5);
    expect(estimateTokens('안녕하세요')).toBe(5);
    expect(estimateTokens('，。！？')).toBe(4);
    // CJK characters outside the BMP count one each too, not by their UTF-16 length
    expect(estimateTokens('𠮷')).toBeGreaterThanOrEqual(1);
    expect(estimateTokens('𠮷'.repeat(30))).toBeGreaterThanOrEqual(30);
  });

  it('counts other text pessimistically (at least a token per four characters)', () => {
    expect(estimateTokens('')).toBe(0);
    for (const t of ['a', 'hello world', 'x'.repeat(999), 'The quick brown fox jumps over the lazy dog']) {
      expect(estimateTokens(t)).toBeGreaterThanOrEqual(Math.ceil(t.length / 4));
      expect(estimateTokens(t)).toBeLessThanOrEqual(t.length);
    }
    // more text never costs less
    expect(estimateTokens('abc def')).toBeGreaterThanOrEqual(estimateTokens('abc'));
  });

  it('adds CJK and other text', () => {
    const mixed = '请帮我 deploy the 服务';
    expect(estimateTokens(mixed)).toBe(estimateTokens('请帮我服务') + estimateTokens(' deploy the '));
  });

  it('is never below the fake model server\'s estimate for the same message (200 random texts)', () => {
    const r = prng(20240611);
    for (let i = 0; i < 200; i++) {
      const t = randomText(r, 80);
      expect(estimateTokens(t) + 4, JSON.stringify(t)).toBeGreaterThanOrEqual(fakeServerTokens([{ content: t }]));
    }
    // characters the fake server counts as a whole token each
    for (const t of ['𠮷'.repeat(50), 'ᄀᄁᄂ'.repeat(20), 'ｱｲｳｴｵ'.repeat(10), '〆〇'.repeat(10)]) {
      expect(estimateTokens(t) + 4, t).toBeGreaterThanOrEqual(fakeServerTokens([{ content: t }]));
    }
  });
});

describe('buildPrompt', () => {
  const big = { contextWindow: 32_000, maxTokens: 2048 };

  it('puts system prompt and retrieval context in the first (system) message, user message last', () => {
    const history = turns(4, (i) => `turn ${i}`);
    const p = buildPrompt({ ...big, systemPrompt: '你是一个乐于助人的同事。', context: '公司假期：春节放假七天。', history, userText: '春节放几天？' });
    expect(p.messages[0]!.role).toBe('system');
    expect(p.messages[0]!.content).toContain('你是一个乐于助人的同事。');
    expect(p.messages[0]!.content).toContain('公司假期：春节放假七天。');
    // the system prompt comes before the reference material
    expect(p.messages[0]!.content.indexOf('你是')).toBeLessThan(p.messages[0]!.content.indexOf('公司假期'));
    expect(p.messages.filter((m) => m.role === 'system')).toHaveLength(1);
    expect(p.messages.at(-1)).toEqual({ role: 'user', content: '春节放几天？' });
    expect(p.messages.slice(1, -1)).toEqual(history);
    expect(p.droppedHistory).toBe(0);
  });

  it('context alone still makes a system message; neither means no system message', () => {
    const withContext = buildPrompt({ ...big, context: 'doc: 出差标准', history: [], userText: 'q' });
    expect(withContext.messages[0]!.role).toBe('system');
    expect(withContext.messages[0]!.content).toContain('doc: 出差标准');

    const bare = buildPrompt({ ...big, history: turns(2, (i) => `h${i}`), userText: 'q' });
    expect(bare.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
  });

  it('keeps the history in time order', () => {
    const history = turns(10, (i) => `message number ${i} 第${i}条`);
    const p = buildPrompt({ ...big, history, userText: 'next' });
    expect(p.messages.slice(0, -1).map((m) => m.content)).toEqual(history.map((m) => m.content));
  });

  it('drops the oldest turns first when over budget', () => {
    // each turn ~ 200 tokens + 4; budget = 2000 - 500 - 64 = 1436 → room for only a few
    const history = turns(30, (i) => `【${String(i).padStart(2, '0')}】` + '历'.repeat(196));
    const p = buildPrompt({ contextWindow: 2000, maxTokens: 500, history, userText: '最新问题' });
    const kept = p.messages.slice(0, -1);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(history.length);
    // what is kept is the most recent stretch of the conversation, in order
    expect(kept).toEqual(history.slice(history.length - kept.length));
    expect(p.droppedHistory).toBe(history.length - kept.length);
    // the history is used as fully as the budget allows: the next older turn would not have fitted
    // (or it is an assistant turn, which may not open the history, and the user turn before it would not fit)
    const start = history.length - kept.length;
    const older = history[start - 1]!.role === 'assistant' ? history.slice(start - 2, start) : history.slice(start - 1, start);
    expect(older[0]!.role).toBe('user');
    expect(moduleTokens([...p.messages, ...older])).toBeGreaterThan(2000 - 500 - 64);
  });

  it('drops more history when the model has a smaller window', () => {
    const history = turns(40, (i) => `turn ${i}: ` + 'word '.repeat(60));
    const wide = buildPrompt({ contextWindow: 16_000, maxTokens: 1000, history, userText: 'q' });
    const narrow = buildPrompt({ contextWindow: 4000, maxTokens: 1000, history, userText: 'q' });
    expect(wide.droppedHistory).toBe(0);
    expect(narrow.droppedHistory).toBeGreaterThan(0);
    expect(narrow.messages.length).toBeLessThan(wide.messages.length);
  });

  it('a kept history never starts with an assistant turn', () => {
    // sizes chosen so that the cut falls right after a user turn, leaving an assistant turn first
    const history = turns(20, (i) => (i % 2 === 0 ? 'q'.repeat(30) : '答'.repeat(150)));
    for (let window = 1000; window <= 3000; window += 37) {
      const p = buildPrompt({ contextWindow: window, maxTokens: 200, history, userText: 'now' });
      const kept = p.messages.slice(0, -1);
      if (kept.length) expect(kept[0]!.role, `window ${window}`).toBe('user');
      expect(kept).toEqual(history.slice(history.length - kept.length));
      expect(p.droppedHistory).toBe(history.length - kept.length);
    }
    // a history that itself starts with an assistant turn (e.g. a proactive greeting) loses that turn
    const greeting = buildPrompt({ ...big, history: turns(3, (i) => `t${i}`, 'assistant'), userText: 'hi' });
    expect(greeting.messages[0]!.role).toBe('user');
    expect(greeting.messages.map((m) => m.content)).toEqual(['t1', 't2', 'hi']);
    expect(greeting.droppedHistory).toBe(1);
  });

  it('clips an oversized user message with a marker instead of overflowing', () => {
    const userText = '这是一段非常长的用户消息。'.repeat(2000); // ~26k tokens
    const p = buildPrompt({ contextWindow: 4096, maxTokens: 1024, systemPrompt: 'be brief', history: turns(6, (i) => `h${i}`), userText });
    const user = p.messages.at(-1)!;
    expect(user.role).toBe('user');
    expect(user.content.endsWith(TRUNCATED)).toBe(true);
    const body = user.content.slice(0, -TRUNCATED.length).trimEnd();
    expect(body.length).toBeGreaterThan(1000); // clipped, not emptied
    expect(userText.startsWith(body)).toBe(true); // the beginning is kept verbatim
    expect(moduleTokens(p.messages)).toBeLessThanOrEqual(4096 - 1024);
    expect(fakeServerTokens(p.messages)).toBeLessThanOrEqual(4096 - 1024);
    // the system prompt is untouched and the history no longer fits
    expect(p.messages[0]).toEqual({ role: 'system', content: 'be brief' });
  });

  it('clips an oversized system prompt / context too, and keeps the user message whole', () => {
    const context = 'Policy text. '.repeat(5000);
    const p = buildPrompt({ contextWindow: 4096, maxTokens: 512, context, history: [], userText: '报销流程是什么？' });
    expect(p.messages[0]!.role).toBe('system');
    expect(p.messages[0]!.content.endsWith(TRUNCATED)).toBe(true);
    expect(p.messages.at(-1)).toEqual({ role: 'user', content: '报销流程是什么？' });
    expect(moduleTokens(p.messages)).toBeLessThanOrEqual(4096 - 512);
  });

  it('a message that fits is never marked as truncated', () => {
    const p = buildPrompt({ ...big, systemPrompt: 'sys', history: [], userText: '短消息' });
    for (const m of p.messages) expect(m.content).not.toContain(TRUNCATED);
  });

  it('never cuts a surrogate pair in half when clipping', () => {
    for (const unit of ['🙂', '𠮷', 'a🙂', '中🙂x']) {
      for (let maxTokens = 200; maxTokens < 260; maxTokens++) {
        const p = buildPrompt({ contextWindow: 512, maxTokens, history: [], userText: unit.repeat(400) });
        const content = p.messages.at(-1)!.content;
        expect(content.endsWith(TRUNCATED)).toBe(true);
        expect(LONE_SURROGATE.test(content), `${unit} maxTokens=${maxTokens}`).toBe(false);
      }
    }
  });

  it('reports promptTokens as the size of the messages it returns', () => {
    const p = buildPrompt({ contextWindow: 3000, maxTokens: 800, systemPrompt: '系统', context: 'ctx', history: turns(50, (i) => `历史 ${i} `.repeat(10)), userText: '问' });
    expect(p.promptTokens).toBe(moduleTokens(p.messages));
  });

  it('stays within contextWindow - maxTokens by both estimates over 200 random mixed Chinese/English conversations', () => {
    const r = prng(7);
    let clippedUser = 0;
    let dropped = 0;
    for (let c = 0; c < 200; c++) {
      const contextWindow = r.int(512, 12_000);
      const maxTokens = r.int(1, contextWindow - 128);
      const firstRole = r.next() < 0.2 ? 'assistant' : 'user';
      const history = turns(r.int(0, 40), () => randomText(r, 60), firstRole);
      const input: PromptInput = {
        systemPrompt: r.next() < 0.7 ? randomText(r, 40) : undefined,
        context: r.next() < 0.4 ? randomText(r, r.next() < 0.2 ? 3000 : 100) : undefined,
        history,
        userText: randomText(r, r.next() < 0.15 ? 4000 : 50) || '你好',
        contextWindow,
        maxTokens,
      };
      const p = buildPrompt(input);
      const label = `case ${c}: window ${contextWindow}, maxTokens ${maxTokens}`;
      const budget = contextWindow - maxTokens;

      const own = moduleTokens(p.messages);
      const fake = fakeServerTokens(p.messages);
      expect(own, label).toBeLessThanOrEqual(budget);
      expect(fake, label).toBeLessThanOrEqual(budget);
      expect(own, label).toBeGreaterThanOrEqual(fake);
      expect(p.promptTokens, label).toBe(own);

      // shape: [system?] history-suffix user
      const hasSystem = !!(input.systemPrompt || input.context);
      expect(p.messages[0]!.role === 'system', label).toBe(hasSystem);
      const kept = p.messages.slice(hasSystem ? 1 : 0, -1);
      expect(kept, label).toEqual(history.slice(history.length - kept.length));
      if (kept.length) expect(kept[0]!.role, label).toBe('user');
      expect(p.droppedHistory, label).toBe(history.length - kept.length);
      const user = p.messages.at(-1)!;
      expect(user.role).toBe('user');
      if (user.content !== input.userText) {
        clippedUser++;
        expect(user.content.endsWith(TRUNCATED), label).toBe(true);
        expect(input.userText.startsWith(user.content.slice(0, -TRUNCATED.length).replace(/\n$/, '')), label).toBe(true);
      }
      for (const m of p.messages) expect(LONE_SURROGATE.test(m.content), label).toBe(false);
      if (p.droppedHistory) dropped++;
    }
    // the random cases exercise both trimming paths
    expect(clippedUser).toBeGreaterThan(5);
    expect(dropped).toBeGreaterThan(20);
  });
});
