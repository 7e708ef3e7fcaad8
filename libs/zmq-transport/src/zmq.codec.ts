import type { Deserializer, Serializer } from '@nestjs/microservices';

/** Default serializer: packets travel as UTF-8 JSON. */
export class JsonSerializer implements Serializer<unknown, string> {
  serialize(value: unknown): string {
    return JSON.stringify(value);
  }
}

/** Default deserializer: UTF-8 JSON from a frame. Throws on malformed input. */
export class JsonDeserializer implements Deserializer<Buffer | string, unknown> {
  deserialize(value: Buffer | string): unknown {
    return JSON.parse(typeof value === 'string' ? value : value.toString('utf8'));
  }
}

/** A frame as a zeromq.js socket accepts it. */
export function toFrame(serialized: unknown): Buffer | string {
  if (typeof serialized === 'string' || Buffer.isBuffer(serialized)) return serialized;
  if (serialized instanceof Uint8Array) return Buffer.from(serialized);
  throw new TypeError('a ZeroMQ serializer must return a string or a Buffer');
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
