import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import {
  PublicKey, SigningKey, SignatureInputError, SIGNATURE_KINDS, generateKeyPair, keyId, signedBytes,
  ed25519SignRaw, ed25519VerifyRaw, isCanonicalBase64,
} from './signature.ts';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

// RFC 8032 section 7.1 test vectors (Ed25519): secret key, public key, message, signature.
const RFC8032 = [
  {
    name: 'TEST 1 (empty message)',
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    public: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'TEST 2 (1 byte)',
    secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    public: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    name: 'TEST 3 (2 bytes)',
    secret: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    public: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
  {
    name: 'TEST 1024 (1023 bytes)',
    secret: 'f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5',
    public: '278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e',
    message:
    '08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98' +
    'fa6e264bf09efe12ee50f8f54e9f77b1e355f6c50544e23fb1433ddf73be84d8' +
    '79de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d' +
    '658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc' +
    '1a858efcb8550ee3a5e1998bd177e93a7363c344fe6b199ee5d02e82d522c4fe' +
    'ba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e' +
    '06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbef' +
    'efd75499da96bd68a8a97b928a8bbc103b6621fcde2beca1231d206be6cd9ec7' +
    'aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1' +
    '85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2' +
    'd17ba70eb6248e594e1a2297acbbb39d502f1a8c6eb6f1ce22b3de1a1f40cc24' +
    '554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270' +
    '88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc' +
    '2732e69485bbc9c90bfbd62481d9089beccf80cfe2df16a2cf65bd92dd597b07' +
    '07e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba' +
    'b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51a' +
    'ddd3b75a2b1ae0784504df543af8969be3ea7082ff7fc9888c144da2af58429e' +
    'c96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7' +
    '51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c' +
    '42f58c30c04aafdb038dda0847dd988dcda6f3bfd15c4b4c4525004aa06eeff8' +
    'ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df' +
    'f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08' +
    'd78ff4ef5d63653a65040cf9bfd4aca7984a74d37145986780fc0b16ac451649' +
    'de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4' +
    '88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a3' +
    '2ef5b52a1ecc820e308aa342721aac0943bf6686b64b2579376504ccc493d97e' +
    '6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f' +
    'b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b5' +
    '0d334ba77c225bc307ba537152f3f1610e4eafe595f6d9d90d11faa933a15ef1' +
    '369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d' +
    'b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c' +
    '0618983f8741c5ef68d3a101e8a3b8cac60c905c15fc910840b94c00a0b9d0',
    signature: '0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03',
  },
  {
    name: 'TEST SHA(abc) (64 bytes)',
    secret: '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42',
    public: 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
    message: 'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    signature: 'dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704',
  },
];

describe('RFC 8032 section 7.1 known answers (raw Ed25519, no domain prefix)', () => {
  for (const v of RFC8032) {
    test(v.name, () => {
      const key = SigningKey.fromRaw(hex(v.secret));
      assert.equal(key.publicKey.toRaw().toString('hex'), v.public, 'public key derived from the secret');
      assert.equal(ed25519SignRaw(key, hex(v.message)).toString('hex'), v.signature, 'signature is byte-identical');
      const pub = PublicKey.fromRaw(hex(v.public));
      assert.equal(ed25519VerifyRaw(pub, hex(v.message), hex(v.signature)), true, 'published signature verifies');
      const flipped = hex(v.signature);
      flipped[10] = (flipped[10] ?? 0) ^ 1;
      assert.equal(ed25519VerifyRaw(pub, hex(v.message), flipped), false, 'flipped signature bit is refused');
    });
  }
  test('TEST 1024 message is 1023 bytes', () => {
    assert.equal(hex(RFC8032[3]?.message ?? '').length, 1023);
  });
});

describe('domain separation', () => {
  const key = SigningKey.generate();
  for (const signedAs of SIGNATURE_KINDS) {
    for (const checkedAs of SIGNATURE_KINDS) {
      const expected = signedAs === checkedAs;
      test(`signed as ${signedAs}, verified as ${checkedAs}: ${expected ? 'valid' : 'invalid'}`, () => {
        const sig = key.sign(signedAs, 'same message');
        assert.equal(key.publicKey.verify(checkedAs, 'same message', sig), expected);
      });
    }
  }
  test('a protocol signature is not a raw signature of the message', () => {
    const sig = Buffer.from(key.sign('vote', 'm'), 'base64');
    assert.equal(ed25519VerifyRaw(key.publicKey, Buffer.from('m'), sig), false);
    assert.equal(ed25519VerifyRaw(key.publicKey, signedBytes('vote', 'm'), sig), true);
  });
  test('signed bytes are "threatmesh/v1/" + kind + NUL + message, for strings and bytes alike', () => {
    assert.equal(signedBytes('tree-head', 'x').toString('latin1'), 'threatmesh/v1/tree-head\0x');
    assert.deepEqual(signedBytes('vote', Buffer.from('é')), signedBytes('vote', 'é'));
  });
  test('an unknown kind is refused when signing', () => {
    assert.throws(() => key.sign('ballot' as 'vote', 'x'), (e: unknown) => e instanceof SignatureInputError && e.reason === 'invalid-kind');
  });
});

describe('verify never throws on network garbage', () => {
  const key = SigningKey.generate();
  const good = key.sign('proposal', 'hello');
  const cases: Array<[string, unknown]> = [
    ['empty string', ''],
    ['not base64', '!'.repeat(88)],
    ['63 bytes', Buffer.alloc(63).toString('base64')],
    ['65 bytes', Buffer.alloc(65).toString('base64')],
    ['url-safe alphabet', good.replace(/\+/g, '-').replace(/\//g, '_') + (/[+/]/.test(good) ? '' : '-')],
    ['64 zero bytes', Buffer.alloc(64).toString('base64')],
    ['trailing newline', good + '\n'],
    ['number', 42],
    ['null', null],
    ['undefined', undefined],
  ];
  for (const [name, sig] of cases) {
    test(name, () => {
      assert.equal(key.publicKey.verify('proposal', 'hello', sig as string), false);
    });
  }
  test('unknown kind gives false', () => {
    assert.equal(key.publicKey.verify('nope' as 'vote', 'hello', good), false);
  });
  test('non-string message gives false', () => {
    assert.equal(key.publicKey.verify('proposal', 7 as unknown as string, good), false);
  });
  test('the good signature verifies and a tampered message does not', () => {
    assert.equal(key.publicKey.verify('proposal', 'hello', good), true);
    assert.equal(key.publicKey.verify('proposal', 'hellO', good), false);
    assert.equal(SigningKey.generate().publicKey.verify('proposal', 'hello', good), false, 'other key');
  });
  test('raw verify refuses a wrong-length signature', () => {
    assert.equal(ed25519VerifyRaw(key.publicKey, Buffer.from('x'), Buffer.alloc(10)), false);
  });
});

/** The other spellings of `canonical` that decode to the same bytes: the last data character with other pad bits. */
function otherSpellings(canonical: string): string[] {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const at = canonical.replace(/=+$/, '').length - 1;
  const bytes = Buffer.from(canonical, 'base64');
  return [...alphabet].map((c) => canonical.slice(0, at) + c + canonical.slice(at + 1))
    .filter((s) => s !== canonical && Buffer.from(s, 'base64').equals(bytes));
}

describe('only the canonical base64 spelling is accepted (trust model: signature malleability)', () => {
  const key = SigningKey.generate();
  const good = key.sign('vote', 'payload');
  test('a signature has 15 other spellings that decode to the same 64 bytes, and verify refuses every one', () => {
    const others = otherSpellings(good);
    assert.equal(others.length, 15);
    for (const s of others) assert.equal(key.publicKey.verify('vote', 'payload', s), false, s);
    assert.equal(key.publicKey.verify('vote', 'payload', good), true);
  });
  test('a public key has 3 other spellings, and fromRawBase64 refuses each with a reason', () => {
    const pub = key.publicKey.toRawBase64();
    const others = otherSpellings(pub);
    assert.equal(others.length, 3);
    for (const s of others) assert.throws(() => PublicKey.fromRawBase64(s), (e: unknown) => e instanceof SignatureInputError && e.reason === 'invalid-public-key' && /canonical/.test(e.message));
    assert.ok(PublicKey.fromRawBase64(pub).equals(key.publicKey));
  });
  const table: Array<[string, string, number, boolean]> = [
    ['64 bytes', Buffer.alloc(64, 7).toString('base64'), 64, true],
    ['32 bytes', Buffer.alloc(32, 7).toString('base64'), 32, true],
    ['missing padding', Buffer.alloc(64, 7).toString('base64').replace(/=+$/, ''), 64, false],
    ['extra padding', `${Buffer.alloc(32, 7).toString('base64')}=`, 32, false],
    ['padding inside', `${Buffer.alloc(32, 7).toString('base64').slice(0, 42)}==`, 32, false],
    ['white space around', ` ${Buffer.alloc(32, 7).toString('base64')}`, 32, false],
    ['url-safe alphabet', Buffer.alloc(64, 0xfb).toString('base64url').padEnd(88, '='), 64, false],
  ];
  for (const [name, text, bytes, want] of table) {
    test(`isCanonicalBase64: ${name} → ${want}`, () => assert.equal(isCanonicalBase64(text, bytes), want));
  }
});

describe('keys: generation, id, import and export', () => {
  test('key id is lowercase hex SHA-256 of the raw public key', () => {
    const pub = PublicKey.fromRaw(hex(RFC8032[0]?.public ?? ''));
    assert.match(pub.id, /^[0-9a-f]{64}$/);
    assert.equal(pub.id, keyId(hex(RFC8032[0]?.public ?? '')));
    assert.equal(pub.id, '21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9');
  });
  test('generateKeyPair gives distinct keys whose ids match', () => {
    const a = generateKeyPair();
    const b = generateKeyPair();
    assert.notEqual(a.keyId, b.keyId);
    assert.equal(a.keyId, a.publicKey.id);
    assert.equal(a.signingKey.id, a.keyId);
  });
  test('PEM round trip (SPKI and PKCS#8)', () => {
    const { signingKey, publicKey } = generateKeyPair();
    assert.match(signingKey.toPem(), /^-----BEGIN PRIVATE KEY-----/);
    assert.match(publicKey.toPem(), /^-----BEGIN PUBLIC KEY-----/);
    const again = SigningKey.fromPem(signingKey.toPem());
    assert.equal(again.id, signingKey.id);
    assert.ok(PublicKey.fromPem(publicKey.toPem()).equals(publicKey));
    assert.equal(publicKey.verify('vote', 'x', again.sign('vote', 'x')), true);
  });
  test('raw base64 round trip (32 bytes each)', () => {
    const { signingKey, publicKey } = generateKeyPair();
    assert.equal(Buffer.from(publicKey.toRawBase64(), 'base64').length, 32);
    assert.equal(Buffer.from(signingKey.toRawBase64(), 'base64').length, 32);
    assert.equal(SigningKey.fromRawBase64(signingKey.toRawBase64()).id, signingKey.id);
    assert.ok(PublicKey.fromRawBase64(publicKey.toRawBase64()).equals(publicKey));
  });
  test('raw export matches the RFC 8032 secret', () => {
    const v = RFC8032[1];
    const key = SigningKey.fromRaw(hex(v?.secret ?? ''));
    assert.equal(Buffer.from(key.toRawBase64(), 'base64').toString('hex'), v?.secret);
  });

  const isReason = (reason: string) => (e: unknown): boolean => e instanceof SignatureInputError && e.reason === reason && e.message.length > 0;
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const badPublic: Array<[string, () => unknown]> = [
    ['31 raw bytes', () => PublicKey.fromRaw(Buffer.alloc(31))],
    ['33 raw bytes', () => PublicKey.fromRaw(Buffer.alloc(33))],
    ['bad base64', () => PublicKey.fromRawBase64('not base64')],
    ['base64 of 16 bytes', () => PublicKey.fromRawBase64(Buffer.alloc(16).toString('base64'))],
    ['garbage PEM', () => PublicKey.fromPem('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n')],
    ['private key PEM', () => PublicKey.fromPem(SigningKey.generate().toPem())],
    ['RSA public key', () => PublicKey.fromPem(rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString())],
  ];
  for (const [name, fn] of badPublic) {
    test(`public key refused: ${name}`, () => assert.throws(fn, isReason('invalid-public-key')));
  }
  const badPrivate: Array<[string, () => unknown]> = [
    ['31 raw bytes', () => SigningKey.fromRaw(Buffer.alloc(31))],
    ['bad base64', () => SigningKey.fromRawBase64('%%%')],
    ['garbage PEM', () => SigningKey.fromPem('hello')],
    ['public key PEM', () => SigningKey.fromPem(SigningKey.generate().publicKey.toPem())],
    ['RSA private key', () => SigningKey.fromPem(rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString())],
  ];
  for (const [name, fn] of badPrivate) {
    test(`private key refused: ${name}`, () => assert.throws(fn, isReason('invalid-private-key')));
  }
  test('the private key is not visible on the object', () => {
    const key = SigningKey.generate();
    assert.doesNotMatch(JSON.stringify(key), new RegExp(key.toRawBase64().replace(/[+/=]/g, '.')));
    assert.deepEqual(Object.keys(key), ['publicKey']);
  });
});
