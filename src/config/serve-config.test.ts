import { describe, expect, it } from 'vitest';
import { InvalidConfig, loadServeConfig } from './serve-config.js';

describe('serve configuration', () => {
  it('defaults to 127.0.0.1:8080 and ./data', () => {
    expect(loadServeConfig({}, {})).toMatchObject({ host: '127.0.0.1', port: 8080 });
    expect(loadServeConfig({}, {}).dataDir).toMatch(/\/data$/);
  });

  it("takes the seeds' environment variables, and flags over them", () => {
    const env = { MCP_HTTP_HOST: '::1', MCP_HTTP_PORT: '9090', FAILSAFE_DATA_DIR: '/tmp/fs' };
    expect(loadServeConfig({}, env)).toEqual({ host: '::1', port: 9090, dataDir: '/tmp/fs', tickSeconds: 10 });
    expect(loadServeConfig({ tickSeconds: '2', policy: '/etc/p.yaml' }, {})).toMatchObject({ tickSeconds: 2, policyPath: '/etc/p.yaml' });
    expect(loadServeConfig({ port: '7000', host: 'localhost' }, env)).toMatchObject({ host: 'localhost', port: 7000 });
  });

  it('lists every problem at once', () => {
    const error = (() => {
      try {
        return loadServeConfig({ port: 'eighty' }, { MCP_HTTP_HOST: '0.0.0.0', FAILSAFE_TICK_SECONDS: '0' });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InvalidConfig);
    expect((error as InvalidConfig).problems).toHaveLength(3);
    expect((error as Error).message).toMatch(/FAILSAFE_TICK_SECONDS="0": must be a whole number of seconds/);
    expect((error as Error).message).toMatch(/--port="eighty": must be a port number/);
    expect((error as Error).message).toMatch(/MCP_HTTP_HOST="0.0.0.0": Failsafe binds to loopback only/);
  });
});
