import { describe, expect, it } from 'vitest';
import { checkpointsFile } from './checkpoints-file.js';

describe('checkpoints file', () => {
  it('keeps checkpoints.db for the embedded store of the data folder, as before', () => {
    expect(checkpointsFile('/srv/f', { kind: 'sqlite', path: '/srv/f/failsafe.db' })).toBe('/srv/f/checkpoints.db');
  });

  it('gives every other store a file of its own, so positions of one store never resume another', () => {
    const pg = checkpointsFile('/srv/f', { kind: 'postgres', url: 'postgres://f:a@db/f' });
    const other = checkpointsFile('/srv/f', { kind: 'sqlite', path: '/mnt/copy.db' });
    expect(pg).toMatch(/^\/srv\/f\/checkpoints-[0-9a-f]{12}\.db$/);
    expect(other).toMatch(/^\/srv\/f\/checkpoints-[0-9a-f]{12}\.db$/);
    expect(new Set([pg, other, '/srv/f/checkpoints.db']).size).toBe(3);
    // A changed password is the same store.
    expect(checkpointsFile('/srv/f', { kind: 'postgres', url: 'postgres://f:b@db/f' })).toBe(pg);
  });
});
