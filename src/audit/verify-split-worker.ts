/** A worker of a split verification (see `foldSplit`): folds one partition of the history and posts it. */
import { parentPort, workerData } from 'node:worker_threads';
import { openStore } from '../event-store/open-store.js';
import { storeHistory } from './store-history.js';
import { foldPartition, type PartitionWork } from './verify-split.js';

const work = workerData as PartitionWork;
const store = await openStore(work.store);
try {
  parentPort!.postMessage(await foldPartition(storeHistory(store), work.policy, work.partition));
} finally {
  await store.close();
}
