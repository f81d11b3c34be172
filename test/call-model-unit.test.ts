import { describe, expect, it } from 'vitest';
import { splitThinking } from '../activities/call-model.js';

describe('splitThinking', () => {
  it('leaves text without a think block unchanged, only trimmed', () => {
    expect(splitThinking('  你好！有什么可以帮你？\n')).toEqual({ text: '你好！有什么可以帮你？', thinking: '' });
    expect(splitThinking('a < b and think > nothing')).toEqual({ text: 'a < b and think > nothing', thinking: '' });
    expect(splitThinking('')).toEqual({ text: '', thinking: '' });
  });

  it('removes a block at the start and returns it as thinking', () => {
    const out = splitThinking('<think>\n用户在问部署步骤，先列出前提。\n</think>\n\n部署分三步：构建、推送、发布。');
    expect(out.text).toBe('部署分三步：构建、推送、发布。');
    expect(out.thinking).toBe('用户在问部署步骤，先列出前提。');
    expect(out.text).not.toContain('think');
  });

  it('removes a block in the middle and joins the text around it', () => {
    const out = splitThinking('Answer part one. <think>check the numbers</think>Answer part two.');
    expect(out.text).toBe('Answer part one. Answer part two.');
    expect(out.thinking).toBe('check the numbers');
  });

  it('removes multiple blocks and returns every one, in order', () => {
    const out = splitThinking('<think>first thought</think>Step 1.\n<think>\n second thought \n</think>Step 2.<think>third</think>');
    expect(out.text).toBe('Step 1.\nStep 2.');
    expect(out.thinking.split('\n')).toEqual(['first thought', 'second thought', 'third']);
  });

  it('does not treat text between two blocks as thinking (blocks are matched lazily)', () => {
    const out = splitThinking('<think>a</think>KEEP ME<think>b</think>');
    expect(out.text).toBe('KEEP ME');
    expect(out.thinking).not.toContain('KEEP ME');
  });

  it('an unterminated <think> (stream cut off): everything after it is thinking', () => {
    const out = splitThinking('Here is the start of an answer.\n<think>but then the model kept reasoning and the stream ended');
    expect(out.text).toBe('Here is the start of an answer.');
    expect(out.thinking).toBe('but then the model kept reasoning and the stream ended');
  });

  it('an answer that is only thinking leaves an empty text', () => {
    expect(splitThinking('<think>只想了，没回答</think>')).toEqual({ text: '', thinking: '只想了，没回答' });
    expect(splitThinking('<think>cut off mid-thought')).toEqual({ text: '', thinking: 'cut off mid-thought' });
    expect(splitThinking('  <think></think>  ').text).toBe('');
  });

  it('empty think blocks add no thinking', () => {
    const out = splitThinking('<think>\n\n</think>The answer.');
    expect(out).toEqual({ text: 'The answer.', thinking: '' });
  });

  it('keeps multi-line answers and Chinese text intact around a block', () => {
    const answer = '1. 打开控制台\n2. 选择「渠道」\n3. 点击保存';
    const out = splitThinking(`<think>step by step\nover lines</think>\n${answer}\n`);
    expect(out.text).toBe(answer);
    expect(out.thinking).toBe('step by step\nover lines');
  });
});
