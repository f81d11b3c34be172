// The tests' fake model server (test/fakes/model-server.ts) on a fixed port, so it can go away (connection
// refused, in-flight answers cut) and come back where imflow expects it.
import { startFakeModelServer, type FakeModelServer } from '../../test/fakes/model-server.js';

export interface RestartableModel {
  baseURL: string;
  /** model calls whose client went away before the answer ended (a killed worker's), since the start */
  aborted(): number;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startRestartableModel(firstTokenDelayMs: number): Promise<RestartableModel> {
  let port = 0;
  let server: FakeModelServer | undefined;
  let abortedBefore = 0; // by servers closed since
  const up = async () => {
    server = await startFakeModelServer({ host: '127.0.0.1', port });
    port = server.port;
    // streamed, like Ollama; the answer quotes the message, and so its tag
    server.setDefault('*', { firstTokenDelayMs, chunkDelayMs: 10 });
  };
  const down = async () => {
    abortedBefore += server?.requests.filter((r) => r.aborted).length ?? 0;
    await server?.close();
    server = undefined;
  };
  await up();
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    aborted: () => abortedBefore + (server?.requests.filter((r) => r.aborted).length ?? 0),
    up,
    down,
    close: down,
  };
}
