import type { EventStore, Subscription } from '../event-store/event-store.js';
import { decodeStored, type TypedRecordedEvent } from '../events/catalogue.js';
import type { CheckpointStore } from './checkpoint-store.js';
import type { Projection } from './projection.js';

export interface ProjectionRunnerOptions<State> {
  /**
   * Save a checkpoint every this many events (and on stop), unless saves would then take more than
   * a tenth of the runner's time: a large state (the policy's fold over a long history, catching up)
   * is saved less often, as often as that share allows.
   */
  readonly checkpointEvery?: number;
  /** Milliseconds from any fixed origin: when saves are due. `performance.now` by default. */
  readonly elapsedMs?: () => number;
  /** Called after each event is applied, with the new state: where a process manager acts. */
  readonly afterApply?: (state: State, event: TypedRecordedEvent) => Promise<void> | void;
}

/** The most of a runner's time its checkpoint saves take (before, saving a large state every 100 events took 88 %). */
const SAVE_SHARE = 0.1;

/**
 * Keeps one projection up to date: resumes from its checkpoint (or from zero when there is none
 * or its version changed), catches up, then follows live appends.
 */
export class ProjectionRunner<State> {
  private state: State;
  private position = 0n;
  private sinceCheckpoint = 0;
  /** When (in `elapsedMs`) the next save may start: a save taking t ms leaves 9 t ms after it. */
  private saveDueAt = Number.NEGATIVE_INFINITY;
  private subscription: Subscription | undefined;
  private loop: Promise<void> | undefined;
  private failure: Error | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly store: EventStore,
    private readonly projection: Projection<State>,
    private readonly checkpoints: CheckpointStore,
    private readonly options: ProjectionRunnerOptions<State> = {},
  ) {
    this.state = projection.initialState;
  }

  get name(): string {
    return this.projection.name;
  }

  /** The state and the position of the last event applied. */
  current(): { readonly state: State; readonly position: bigint } {
    return { state: this.state, position: this.position };
  }

  async start(): Promise<void> {
    const checkpoint = await this.checkpoints.load(this.projection.name);
    if (checkpoint && checkpoint.version === this.projection.version) {
      this.state = checkpoint.state as State;
      this.position = checkpoint.position;
    }
    this.subscription = this.store.subscribe({ after: this.position });
    this.loop = this.follow(this.subscription);
  }

  private async follow(subscription: Subscription): Promise<void> {
    try {
      for await (const recorded of subscription) {
        const event = decodeStored(recorded);
        this.state = this.projection.apply(this.state, event);
        // Awaited only when there is one: a read model folding a long history would wait a turn per event.
        if (this.options.afterApply) await this.options.afterApply(this.state, event);
        // Only now: whoever waits for this position (catchUp) waits for what the event led to as well.
        this.position = recorded.position;
        this.sinceCheckpoint += 1;
        if (this.sinceCheckpoint >= (this.options.checkpointEvery ?? 1000) && this.elapsed() >= this.saveDueAt)
          await this.saveCheckpoint();
        this.wake();
      }
    } catch (error) {
      this.failure = error as Error;
      this.wake();
    }
  }

  private wake(): void {
    for (const wake of this.waiters) wake();
  }

  /** Resolves once every event up to `position` has been applied; rejects if the projection failed. */
  async waitFor(position: bigint, timeoutMs = 30_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.position < position) {
      if (this.failure) throw this.failure;
      if (performance.now() > deadline) {
        throw new Error(
          `projection ${this.name} reached position ${this.position}, not ${position}, within ${timeoutMs} ms`,
        );
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(1, Math.min(250, deadline - performance.now())));
        this.waiters.add(done);
      });
    }
    if (this.failure) throw this.failure;
  }

  /** Resolves once the projection has applied everything in the store when called. */
  async catchUp(timeoutMs?: number): Promise<void> {
    await this.waitFor(await this.store.headPosition(), timeoutMs);
  }

  private elapsed(): number {
    return this.options.elapsedMs ? this.options.elapsedMs() : performance.now();
  }

  private async saveCheckpoint(): Promise<void> {
    this.sinceCheckpoint = 0;
    const started = this.elapsed();
    await this.checkpoints.save(this.projection.name, {
      position: this.position,
      version: this.projection.version,
      state: this.state,
    });
    const ended = this.elapsed();
    this.saveDueAt = ended + (ended - started) * (1 / SAVE_SHARE - 1);
  }

  async stop(): Promise<void> {
    await this.subscription?.close();
    await this.loop;
    if (!this.failure) await this.saveCheckpoint();
  }

  /** Forgets the checkpoint: the next start rebuilds the projection from the first event. */
  async reset(): Promise<void> {
    await this.checkpoints.delete(this.projection.name);
  }
}
