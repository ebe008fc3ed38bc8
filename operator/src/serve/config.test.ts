import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authenticate } from './auth.ts';
import { ServeConfigError, parseServeConfig, tokenHash } from './config.ts';
import { configOf } from './fixtures.ts';

test('invalid configuration files name the field', () => {
  const cases: Array<[string, string]> = [
    ['consumers: [{name: a, maxTlp: white, tokens: [{sha256: x}]}]', 'consumers[0].maxTlp'],
    ['consumers: [{name: A!, maxTlp: green, tokens: []}]', 'consumers[0].name'],
    ['consumers: [{name: a, maxTlp: green}]', 'consumers[0]'],
    ['consumers: [{name: a, maxTlp: green, tokens: [{sha256: abc}]}]', 'consumers[0].tokens[0].sha256'],
    ['consumers: [{name: a, maxTlp: green, roles: [admin], tokens: [{file: /t}]}]', 'consumers[0].roles[0]'],
    ['consumers: [{name: a, maxTlp: green, tokens: [{file: /t, sha256: x}]}]', 'consumers[0].tokens[0]'],
    ['consumers: [{name: a, maxTlp: green, certificates: [{subject: ""}]}]', 'consumers[0].certificates[0]'],
    ['consumers: [{name: a, maxTlp: green, tokens: [{file: /t}]}, {name: a, maxTlp: red, tokens: [{file: /u}]}]', 'consumers[1].name'],
    ['consumers: [{name: a, maxTlp: green, tokens: [{file: /t}], extra: 1}]', 'consumers[0].extra'],
    ['maxPageSize: 0', 'maxPageSize'],
    ['title: [', '(document)'],
  ];
  for (const [text, field] of cases) {
    assert.throws(() => parseServeConfig(text), (err: unknown) => err instanceof ServeConfigError && err.field === field, text);
  }
});

test('tokens are kept only as hashes and map to their consumer; bad credentials never authenticate', async () => {
  const config = await configOf([{ name: 'siem', maxTlp: 'green' }, { name: 'intel', maxTlp: 'amber', roles: ['contributor'] }]);
  assert.ok(!JSON.stringify([...config.byTokenHash.keys()]).includes('siem-token'));
  const ok = authenticate(config, { authorization: 'Bearer siem-token-0123456789' });
  assert.ok(ok.ok && ok.consumer.name === 'siem' && ok.consumer.maxTlp === 'green');
  const refused: Array<[string, Parameters<typeof authenticate>[1]]> = [
    ['nothing', {}],
    ['wrong token', { authorization: 'Bearer siem-token-0123456780' }],
    ['basic auth', { authorization: 'Basic c2llbTpwdw==' }],
    ['empty bearer', { authorization: 'Bearer ' }],
    ['hash as token', { authorization: `Bearer ${tokenHash('siem-token-0123456789')}` }],
    ['unverified certificate', { unverifiedCert: true }],
    ['verified but unknown certificate', { verifiedCert: { subjectCN: 'stranger', fingerprint256: 'AB:CD' } }],
  ];
  for (const [what, creds] of refused) assert.equal(authenticate(config, creds).ok, false, what);
});

test('client certificates map by fingerprint or subject CN', async () => {
  const { loadServeConfig, validateServeConfig } = await import('./config.ts');
  const fp = 'AB:'.repeat(31) + 'AB';
  const config = await loadServeConfig(validateServeConfig({ consumers: [{ name: 'by-cn', maxTlp: 'clear', certificates: [{ subject: 'siem.example' }] }, { name: 'by-fp', maxTlp: 'amber', certificates: [{ sha256: fp }] }] }), () => Promise.reject(new Error('no files')));
  const cn = authenticate(config, { verifiedCert: { subjectCN: 'siem.example', fingerprint256: '00' } });
  assert.ok(cn.ok && cn.consumer.name === 'by-cn' && cn.via === 'certificate');
  const byFp = authenticate(config, { verifiedCert: { subjectCN: 'siem.example', fingerprint256: fp } });
  assert.ok(byFp.ok && byFp.consumer.name === 'by-fp', 'the fingerprint wins over the subject');
});

test('a token file that is too short or unreadable is refused with its field', async () => {
  const { loadServeConfig, validateServeConfig } = await import('./config.ts');
  const spec = validateServeConfig({ consumers: [{ name: 'a', maxTlp: 'green', tokens: [{ file: '/t' }] }] });
  await assert.rejects(loadServeConfig(spec, () => Promise.resolve('short\n')), (e: unknown) => e instanceof ServeConfigError && e.field === 'consumers[0].tokens[0].file');
  await assert.rejects(loadServeConfig(spec, () => Promise.reject(new Error('ENOENT'))), (e: unknown) => e instanceof ServeConfigError && /ENOENT/.test(e.message));
});
