import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeStore, InvalidStoreUrl, parseStoreUrl } from './store-url.js';

describe('store URLs', () => {
  it('names the embedded store by path, resolved from the working folder', () => {
    expect(parseStoreUrl('sqlite:data/events.db')).toEqual({ kind: 'sqlite', path: resolve('data/events.db') });
    expect(parseStoreUrl('sqlite:///var/lib/f/events.db')).toEqual({ kind: 'sqlite', path: '/var/lib/f/events.db' });
  });

  it('resolves a relative path from the folder it is given (the config file names paths from its own folder)', () => {
    expect(parseStoreUrl('sqlite:state/events.db', '/etc/failsafe')).toEqual({
      kind: 'sqlite',
      path: '/etc/failsafe/state/events.db',
    });
    expect(parseStoreUrl('sqlite:/var/f.db', '/etc/failsafe')).toEqual({ kind: 'sqlite', path: '/var/f.db' });
  });

  it('names server stores by their URL, several hosts included', () => {
    const multi = 'postgresql://postgres@127.0.0.1:5432,127.0.0.1:5433/f?target_session_attrs=read-write';
    expect(parseStoreUrl(multi)).toEqual({ kind: 'postgres', url: multi });
    expect(parseStoreUrl('esdb://127.0.0.1:2113?tls=false').kind).toBe('eventstore');
    expect(parseStoreUrl('kurrentdb://127.0.0.1:2113?tls=false').kind).toBe('eventstore');
  });

  it.each([
    ['', 'is empty'],
    ['events.db', 'has no scheme'],
    ['mysql://h/db', 'unknown scheme mysql:'],
    ['sqlite:', 'names no file'],
    ['sqlite:a\0b', 'NUL'],
    ['postgres://[bad', 'not a valid URL'],
    ['postgres://h:99999999/db', 'not a valid URL'],
    ['esdb://', 'not a valid URL'],
  ])('refuses %j, saying what would do', (url, why) => {
    expect(() => parseStoreUrl(url)).toThrow(InvalidStoreUrl);
    expect(() => parseStoreUrl(url)).toThrow(why);
    expect(() => parseStoreUrl(url)).toThrow('use sqlite:<path>, postgres://');
  });

  it('masks a password when it shows a store', () => {
    const shown = describeStore(parseStoreUrl('postgres://failsafe:s3cret@db:5432/f'));
    expect(shown).toBe('postgres://failsafe:***@db:5432/f');
    expect(() => parseStoreUrl('postgres://failsafe:s3cret@[bad/f')).toThrow('"postgres://failsafe:***@[bad/f"');
  });
});
