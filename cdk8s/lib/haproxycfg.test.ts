/**
 * The front door's haproxy.cfg keeps to what both HAProxy 2.6 (Debian 12's, which the install
 * tests run `haproxy -c` with) and 3.2 (the chart's image) accept. `haproxy -c` on 2.6 cannot see
 * what only later versions refuse, so those rules are checked on the text here, for every role.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { clusterHaproxyConfig } from './haproxy.ts';
import { resolveValues } from '../values.ts';

/** Names of the proxy sections (frontend, backend, listen, defaults with a name). */
function proxyNames(cfg: string): string[] {
  return [...cfg.matchAll(/^(?:frontend|backend|listen)\s+(\S+)/gm)].map((m) => m[1] ?? '');
}

const RULES: ReadonlyArray<[string, (cfg: string) => boolean]> = [
  ['no two proxies share a name (3.1 deprecates a frontend and a backend of one name, 3.3 refuses it)', (cfg) => new Set(proxyNames(cfg)).size === proxyNames(cfg).length],
  ['no program section (deprecated in 3.1, removed in 3.3)', (cfg) => !/^program\s/m.test(cfg)],
  ['no mailers section (3.3 needs the Lua mailers)', (cfg) => !/^mailers\s/m.test(cfg)],
  ['health checks send their request with http-check send (no method or URI on the option line)', (cfg) => !/option httpchk \S/.test(cfg)],
  ['no nbproc or process-based keywords (removed in 2.5)', (cfg) => !/\b(nbproc|bind-process|process)\b/.test(cfg)],
  ['every default_backend names a backend of this file', (cfg) => [...cfg.matchAll(/default_backend (\S+)/g)].every((m) => new RegExp(`^backend ${m[1]}$`, 'm').test(cfg))],
];

const CASES: ReadonlyArray<[string, Record<string, unknown>]> = [['partner', {}], ['partner without HTTPS APIs', { serve: { enabled: false } }], ['sequencer', { role: 'sequencer' }]];

describe('haproxy.cfg for HAProxy 2.6 and 3.2', () => {
  for (const [name, values] of CASES) {
    const cfg = clusterHaproxyConfig(resolveValues(values));
    for (const [rule, ok] of RULES) it(`${name}: ${rule}`, () => assert.ok(ok(cfg), cfg));
  }

  it('the rules can fail: a frontend and a backend named alike are caught', () => {
    const [, sameName] = RULES[0] ?? ['', () => true];
    assert.equal(sameName('frontend gossip\n  mode tcp\nbackend gossip\n  mode tcp\n'), false);
  });
});
