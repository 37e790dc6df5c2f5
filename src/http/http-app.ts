import { Hono } from 'hono';
import type { EventStore } from '../event-store/event-store.js';

export interface HttpAppDependencies {
  readonly store: EventStore;
  /** Which adapter serves the store, shown on /health (e.g. "sqlite"). */
  readonly storeEngine: string;
}

export function createHttpApp({ store, storeEngine }: HttpAppDependencies): Hono {
  const app = new Hono();

  app.get('/health', async (c) => {
    try {
      const headPosition = await store.headPosition();
      return c.json({ status: 'ok', store: { engine: storeEngine, headPosition: headPosition.toString() } });
    } catch (error) {
      return c.json({ status: 'unavailable', store: { engine: storeEngine, error: (error as Error).message } }, 503);
    }
  });

  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404));
  return app;
}
