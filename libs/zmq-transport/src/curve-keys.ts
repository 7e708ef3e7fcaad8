import { createPrivateKey, createPublicKey } from 'node:crypto';
import { curveKeyPair } from 'zeromq';

/** A CURVE key as ZeroMQ takes it: 32 bytes in Z85 text (40 characters). */
export type CurveKey = string;

export interface CurveKeyPair {
  readonly publicKey: CurveKey;
  readonly secretKey: CurveKey;
}

/** Bad key material; the message names the field (or variable, or file) and what is wrong. */
export class CurveKeyError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'CurveKeyError';
  }
}

const Z85 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const Z85_VALUE = new Map([...Z85].map((char, i) => [char, i]));

/** Z85 (ZeroMQ RFC 32) text to bytes; throws naming `field` on a bad length or character. */
export function z85Decode(text: string, field = 'key'): Buffer {
  if (text.length % 5 !== 0)
    throw new CurveKeyError(
      field,
      `Z85 text must be a multiple of 5 characters, got ${text.length}`,
    );
  const out = Buffer.alloc((text.length / 5) * 4);
  for (let i = 0; i < text.length; i += 5) {
    let value = 0;
    for (let j = i; j < i + 5; j++) {
      const digit = Z85_VALUE.get(text[j]);
      if (digit === undefined)
        throw new CurveKeyError(field, `"${text[j]}" at position ${j + 1} is not a Z85 character`);
      value = value * 85 + digit;
    }
    if (value > 0xffffffff) throw new CurveKeyError(field, `Z85 group at ${i + 1} overflows`);
    out.writeUInt32BE(value, (i / 5) * 4);
  }
  return out;
}

/** Bytes (a multiple of 4) to Z85 text. */
export function z85Encode(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) throw new RangeError('Z85 encodes a multiple of 4 bytes');
  let out = '';
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let i = 0; i < bytes.length; i += 4) {
    let value = view.readUInt32BE(i);
    let group = '';
    for (let j = 0; j < 5; j++) {
      group = Z85[value % 85] + group;
      value = Math.floor(value / 85);
    }
    out += group;
  }
  return out;
}

/** Checks that `key` is a CURVE key (40 Z85 characters, 32 bytes); returns it trimmed. */
export function parseCurveKey(key: unknown, field: string): CurveKey {
  if (typeof key !== 'string' || key.trim() === '')
    throw new CurveKeyError(field, 'is missing (a CURVE key is 40 characters of Z85 text)');
  const trimmed = key.trim();
  if (trimmed.length !== 40)
    throw new CurveKeyError(
      field,
      `a CURVE key is 40 characters of Z85 text, got ${trimmed.length}`,
    );
  z85Decode(trimmed, field);
  return trimmed;
}

// PKCS#8 header of a raw X25519 private key: CURVE's long-term keys are X25519 keys.
const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** The public key that belongs to a secret key. */
export function curvePublicKeyOf(secretKey: CurveKey, field = 'secretKey'): CurveKey {
  const raw = z85Decode(parseCurveKey(secretKey, field), field);
  const key = createPrivateKey({
    key: Buffer.concat([X25519_PKCS8, raw]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return z85Encode(spki.subarray(spki.length - 32));
}

/**
 * Validates a key pair: both keys well-formed and the public key the secret key's own. With
 * no public key it is derived. `fields` name the two for the error messages.
 */
export function parseCurveKeyPair(
  secretKey: unknown,
  publicKey: unknown,
  fields: { secret: string; public: string } = { secret: 'secretKey', public: 'publicKey' },
): CurveKeyPair {
  const secret = parseCurveKey(secretKey, fields.secret);
  const derived = curvePublicKeyOf(secret, fields.secret);
  if (publicKey === undefined) return { secretKey: secret, publicKey: derived };
  const given = parseCurveKey(publicKey, fields.public);
  if (given !== derived)
    throw new CurveKeyError(fields.public, `is not the public key of ${fields.secret}`);
  return { secretKey: secret, publicKey: given };
}

/** A fresh key pair (libzmq's generator). */
export function generateCurveKeyPair(): CurveKeyPair {
  return curveKeyPair();
}
