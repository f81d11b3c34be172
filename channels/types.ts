import type { ReplyButton } from '../pipelines/graph.js';
import type { ChannelConfig } from '../runtime/config.js';
import type { KeyValueStore } from '../runtime/kv.js';
import type { ChannelType, InboundMessage } from '../workflows/types.js';

/** An inbound HTTP request as the webhook route hands it to an adapter: raw bytes, nothing parsed yet. */
export interface WebhookRequest {
  method: 'GET' | 'POST';
  /** query parameters, already URL-decoded */
  query: Record<string, string | undefined>;
  /** header names lower-cased */
  headers: Record<string, string | undefined>;
  rawBody: Buffer;
}

/** What the platform gets back. Sent as JSON when `body` is an object, as text otherwise. */
export interface WebhookResponse {
  status: number;
  body?: string | Record<string, unknown>;
  contentType?: string;
}

/** What an adapter made of a verified request. */
export interface Received {
  /** messages to handle (usually one; none for URL verification or events imflow does not handle) */
  messages: InboundMessage[];
  /** the platform's ack: sent at once, before any work */
  response: WebhookResponse;
  /** a verified request that carries nothing to answer (an event type imflow does not handle): why */
  unhandled?: string;
}

/** A forged, stale or malformed request: answered with `status` and nothing is started. */
export class WebhookRejected extends Error {
  constructor(
    readonly status: 400 | 401 | 404 | 413,
    /** for the log and the response; never contains a secret */
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'WebhookRejected';
  }
}

export interface OutboundReply {
  text: string;
  /** stable per run: platforms that support it (Feishu `uuid`) drop a second send with the same key */
  idempotencyKey: string;
  /** buttons under the text (a pipeline's reply node); each platform draws them its own way */
  buttons?: ReplyButton[];
}

export interface SendResult {
  platformMessageId?: string;
}

/** What send() may use besides the channel's own config. */
export interface SendContext {
  /** Redis (or the in-process store): access tokens are cached here, shared by all workers */
  kv: KeyValueStore;
}

/**
 * One IM platform. Adding a platform means writing these three functions in channels/<type>.ts and
 * registering the adapter in channels/index.ts (docs/channels.md).
 */
export interface ChannelAdapter<Payload = unknown> {
  type: ChannelType;
  /**
   * Checks the request is genuine (signature, token, timestamp window, receiver id) and decrypts it.
   * Throws WebhookRejected (401 forged/stale, 400 malformed) — never starts anything itself.
   * `now` is ms since epoch (injected so tests can pin the clock).
   */
  verify(channel: ChannelConfig, req: WebhookRequest, now: number): Payload;
  /**
   * Turns a verified payload (or a platform-native body pasted into the sandbox) into normalised
   * messages plus the immediate ack. Pure: no I/O.
   */
  receive(channel: ChannelConfig, payload: Payload, now: number): Received;
  /**
   * Delivers one answer. Throws SendRejected for a 4xx-like refusal (not retried), any other error
   * for a transient failure (retried by Temporal). An expired access token is refreshed once here.
   */
  send(channel: ChannelConfig, to: InboundMessage, reply: OutboundReply, ctx: SendContext): Promise<SendResult>;
}

/** The platform refused the message (4xx or a non-retryable error code): retrying the same request cannot help. */
export class SendRejected extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'SendRejected';
  }
}
