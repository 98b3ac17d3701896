import { describe, expect, it } from 'vitest';
import { ConfigError, ERROR_CODES, isRetryable, PermanentError, RiskpipeError } from '../../src/common/errors.js';

describe('error registry', () => {
  it('gives every code the RP_ERR_ prefix, an HTTP status and a retry verdict', () => {
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^RP_ERR_[A-Z_]+$/);
      expect(spec.status).toBeGreaterThanOrEqual(400);
      expect(spec.status).toBeLessThan(600);
      expect(typeof spec.retryable).toBe('boolean');
      expect(spec.message.length).toBeGreaterThan(3);
    }
  });

  it('marks exactly the 503s as retryable', () => {
    for (const spec of Object.values(ERROR_CODES)) expect(spec.retryable).toBe(spec.status === 503);
  });

  it('classifies by class and code, not by message', () => {
    expect(isRetryable(new RiskpipeError('RP_ERR_QUEUE_FULL', 'permanent-sounding text'))).toBe(true);
    expect(isRetryable(new PermanentError('RP_ERR_POISON_ENTRY', 'retry-sounding text: try again'))).toBe(false);
    expect(isRetryable(new Error('anything'))).toBe(true);
    const e = new RiskpipeError('RP_ERR_BATCH_TOO_LARGE');
    expect(e.status).toBe(413);
    expect(e.message).toBe(ERROR_CODES.RP_ERR_BATCH_TOO_LARGE.message);
  });

  it('formats config problems as path: message lines', () => {
    const e = new ConfigError([
      { path: 'port (--port)', message: 'must be between 0 and 65535' },
      { path: 'redisUrl (REDIS_URL)', message: 'must be a redis:// URL' },
    ]);
    expect(e.message).toBe('Invalid configuration:\n  port (--port): must be between 0 and 65535\n  redisUrl (REDIS_URL): must be a redis:// URL');
    expect(e).toBeInstanceOf(RiskpipeError);
  });
});
