import { describeEventStoreContract } from './event-store.contract.js';
import { MemoryEventStore } from './memory-event-store.js';

describeEventStoreContract(
  'in memory',
  async () => {
    const store = new MemoryEventStore();
    return { store, archive: store.archive, dispose: () => store.close() };
  },
  { singleProcess: 'an in-memory store lives in one process' },
);
