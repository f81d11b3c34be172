import { WebhookRejected } from '../../channels/types.js';

/** Runs fn and returns the WebhookRejected it throws (anything else, or nothing, fails the test). */
export function rejection(fn: () => unknown): WebhookRejected {
  try {
    fn();
  } catch (err) {
    if (err instanceof WebhookRejected) return err;
    throw err;
  }
  throw new Error('expected a WebhookRejected');
}
