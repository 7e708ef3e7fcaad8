import {
  curvePublicKeyOf,
  generateCurveKeyPair,
  parseCurveKey,
  parseCurveKeyPair,
  z85Decode,
  z85Encode,
} from './curve-keys';

describe('CURVE keys', () => {
  it('encodes and decodes Z85 as RFC 32 specifies', () => {
    const bytes = Buffer.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
    expect(z85Encode(bytes)).toBe('HelloWorld');
    expect(z85Decode('HelloWorld')).toEqual(bytes);
    const { publicKey } = generateCurveKeyPair();
    expect(z85Encode(z85Decode(publicKey))).toBe(publicKey);
  });

  it('derives the public key libzmq generated with the secret key', () => {
    for (let i = 0; i < 5; i++) {
      const pair = generateCurveKeyPair();
      expect(curvePublicKeyOf(pair.secretKey)).toBe(pair.publicKey);
      expect(parseCurveKeyPair(pair.secretKey, undefined)).toEqual(pair);
    }
  });

  it('names the field and the fault in bad key material', () => {
    const { secretKey } = generateCurveKeyPair();
    expect(() => parseCurveKey(undefined, 'CHAT_SECRET_KEY')).toThrow(
      /^CHAT_SECRET_KEY: is missing/,
    );
    expect(() => parseCurveKey(secretKey.slice(1), 'n0.key')).toThrow(
      'n0.key: a CURVE key is 40 characters of Z85 text, got 39',
    );
    expect(() => parseCurveKey(`~${secretKey.slice(1)}`, 'n0.key')).toThrow(
      'n0.key: "~" at position 1 is not a Z85 character',
    );
    expect(() => parseCurveKey('#'.repeat(40), 'n0.key')).toThrow(
      /n0\.key: Z85 group at 1 overflows/,
    );
    expect(() =>
      parseCurveKeyPair(secretKey, generateCurveKeyPair().publicKey, {
        secret: 'n0.key',
        public: 'n0.pub',
      }),
    ).toThrow('n0.pub: is not the public key of n0.key');
    expect(parseCurveKey(`  ${secretKey}\n`, 'n0.key')).toBe(secretKey);
  });
});
