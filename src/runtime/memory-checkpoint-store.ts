import type { Checkpoint, CheckpointStore } from './checkpoint-store.js';

/** Checkpoints for a process that rebuilds its read models at every start. */
export class MemoryCheckpointStore implements CheckpointStore {
  private readonly checkpoints = new Map<string, string>();

  async load(name: string): Promise<Checkpoint | undefined> {
    const stored = this.checkpoints.get(name);
    if (!stored) return undefined;
    const { position, version, state } = JSON.parse(stored) as { position: string; version: number; state: unknown };
    return { position: BigInt(position), version, state };
  }

  async save(name: string, { position, version, state }: Checkpoint): Promise<void> {
    // Serialised like the durable store, so a state that would not survive JSON fails here too.
    this.checkpoints.set(name, JSON.stringify({ position: position.toString(), version, state }));
  }

  async delete(name: string): Promise<void> {
    this.checkpoints.delete(name);
  }

  async close(): Promise<void> {}
}
