import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScanError } from './errors.ts';
import { S3Client, signV4 } from './s3.ts';

const cfg = { endpoint: 'http://127.0.0.1:1', region: 'us-east-1', accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

test('SigV4: the AWS documentation example of a GET with a Range header', () => {
  // "Example: GET Object" of the S3 SigV4 header-signing documentation (examplebucket, test.txt, bytes=0-9).
  const doc = { endpoint: 'https://examplebucket.s3.amazonaws.com', region: 'us-east-1', accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
  const h = signV4(doc, { method: 'GET', url: new URL('https://examplebucket.s3.amazonaws.com/test.txt'), headers: { range: 'bytes=0-9' } }, new Date('2013-05-24T00:00:00Z'));
  assert.equal(h['authorization'], 'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
  assert.equal(h['x-amz-date'], '20130524T000000Z');
});

test('object keys that URL parsing would resolve elsewhere, and bad bucket names, are refused before any request', async () => {
  const c = new S3Client(cfg);
  const cases: Array<[string, string, RegExp]> = [
    ['logs', '../other-bucket/secret.log', /"\." or "\.\." segment/],
    ['logs', 'zeek/./dns.log', /"\." or "\.\." segment/],
    ['logs', 'zeek/..', /"\." or "\.\." segment/],
    ['Logs_Bucket', 'a.log', /not an S3 bucket name/],
    ['../x', 'a.log', /not an S3 bucket name/],
  ];
  for (const [bucket, key, err] of cases) {
    await assert.rejects(c.size(bucket, key), (e: unknown) => e instanceof ScanError && err.test(e.message), `${bucket}/${key}`);
  }
});
