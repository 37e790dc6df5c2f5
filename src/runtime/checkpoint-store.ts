/** Where a projection keeps how far it got and the state it had there. */
export interface Checkpoint {
  readonly position: bigint;
  readonly version: number;
  readonly state: unknown;
}

export interface CheckpointStore {
  load(name: string): Promise<Checkpoint | undefined>;
  save(name: string, checkpoint: Checkpoint): Promise<void>;
  delete(name: string): Promise<void>;
  close(): Promise<void>;
}
