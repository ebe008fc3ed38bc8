import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mongoConfigError, mongoUnreachable } from './connect.ts';

function named(name: string, message: string, extra: Record<string, unknown> = {}): Error {
  const err = new Error(message);
  err.name = name;
  return Object.assign(err, extra);
}

const cases: ReadonlyArray<{ name: string; err: unknown; want: RegExp | undefined }> = [
  { name: 'a malformed URI', err: named('MongoParseError', 'Invalid scheme, expected connection string to start with "mongodb://" or "mongodb+srv://"'), want: /--mongodb-uri is not a valid MongoDB connection string .*fix it/ },
  { name: 'an unknown URI option', err: named('MongoParseError', 'option wtimeout is not supported'), want: /not a valid MongoDB connection string/ },
  { name: 'credentials refused (code 18)', err: named('MongoServerError', 'Authentication failed.', { code: 18 }), want: /refused the credentials of --mongodb-uri .*user name, password or authSource/ },
  { name: 'a certificate that does not verify', err: named('MongoServerSelectionError', 'self-signed certificate in certificate chain'), want: /TLS connection to MongoDB failed verification .*tlsCAFile/ },
  { name: 'a database that is down', err: named('MongoServerSelectionError', 'connect ECONNREFUSED 127.0.0.1:27017'), want: undefined },
  { name: 'server selection timed out', err: named('MongoServerSelectionError', 'Server selection timed out after 15000 ms'), want: undefined },
  { name: 'a connection reset', err: named('MongoNetworkError', 'read ECONNRESET'), want: undefined },
  { name: 'the client closed by a stop', err: named('MongoClientClosedError', 'Operation interrupted because client was closed'), want: undefined },
  { name: 'not an error', err: 'something', want: undefined },
  { name: 'a TLS error not from the driver (the gossip port)', err: new Error('error:0A00018E:SSL routines::ca md too weak'), want: undefined },
];

for (const c of cases) {
  test(`mongoConfigError: ${c.name}`, () => {
    const got = mongoConfigError(c.err);
    if (c.want === undefined) assert.equal(got, undefined, 'worth retrying');
    else assert.match(got ?? '', c.want);
  });
}

test('mongoConfigError names the flag it is given', () => {
  assert.match(mongoConfigError(named('MongoParseError', 'Invalid scheme'), 'MONGODB_URI') ?? '', /^MONGODB_URI is not/);
});

test('mongoUnreachable: a database that does not answer, also wrapped; not a refused command or another error', () => {
  const rows: Array<[unknown, boolean]> = [
    [named('MongoServerSelectionError', 'Server selection timed out after 15000 ms'), true],
    [named('MongoNetworkError', 'Connection to 127.0.0.1:34689 interrupted due to server monitor timeout'), true],
    [named('MongoPoolClearedError', 'Connection pool for 127.0.0.1:27017 was cleared'), true],
    [new Error('cannot open the sequencer (2 voter PartnerNodes in namespace x)', { cause: named('MongoNetworkError', 'connect ECONNREFUSED 127.0.0.1:27017') }), true],
    [named('MongoServerError', 'not authorized on tm to execute command'), false],
    [new Error('ECONNREFUSED 127.0.0.1:8443'), false],
    [new Error('the log does not verify at entry 7'), false],
    ['ECONNREFUSED', false],
  ];
  for (const [err, want] of rows) assert.equal(mongoUnreachable(err), want, String(err instanceof Error ? `${err.name}: ${err.message}` : err));
});
