import type { Deserializer, Serializer } from '@nestjs/microservices';
import type { ConnectionAudit } from './connection-audit';

/**
 * CURVE (ZeroMQ RFC 26): encryption and mutual authentication. A server socket (ROUTER,
 * bound PUB) admits only the `allow`-listed public keys (checked by the process's ZAP
 * handler); a client socket (DEALER, SUB) only talks to the holder of `serverKey`.
 */
export interface ZmqCurveOptions {
  /** This process's secret key (Z85, 40 characters). */
  readonly secretKey: string;
  /** Its public key; derived from the secret key when omitted, checked against it when given. */
  readonly publicKey?: string;
  /** ZmqClient's DEALER: the public key of the server it connects to. */
  readonly serverKey?: string;
  /** Server sockets: who may connect, peer name -> public key (the name is what gets logged). */
  readonly allow?: Readonly<Record<string, string>>;
}

/** A publisher to subscribe to; with CURVE, `serverKey` pins who may publish there. */
export interface ZmqSubscription {
  readonly endpoint: string;
  readonly serverKey?: string;
}

/** Limits and socket settings shared by server and client. */
export interface ZmqSocketOptions {
  /** Frames larger than this are dropped and counted (bytes). Default 1 MiB. */
  readonly maxFrameBytes?: number;
  /** How long close() lets queued frames go out before the socket is dropped (ms). Default 100. */
  readonly lingerMs?: number;
  /** Send and receive high-water marks (messages). Default 100,000. */
  readonly highWaterMark?: number;
  readonly serializer?: Serializer;
  readonly deserializer?: Deserializer;
  /** Encrypt and authenticate every connection (see {@link ZmqCurveOptions}); plaintext when absent. */
  readonly curve?: ZmqCurveOptions;
  /** Where admitted and refused connections are recorded; one per process can be shared. */
  readonly audit?: ConnectionAudit;
}

export interface ZmqServerOptions extends ZmqSocketOptions {
  /** ROUTER endpoint to bind for requests and point-to-point events, e.g. `tcp://127.0.0.1:7100`. Omit for a subscribe-only server. */
  readonly bind?: string;
  /** Publishers (peers) whose events this server handles, one SUB socket each. */
  readonly subscribe?: readonly (string | ZmqSubscription)[];
  /** Topic prefixes to subscribe to (a topic is the event pattern). Default: everything. */
  readonly topics?: readonly string[];
  /** How long close() waits for in-flight handlers (ms). Default 2,000. */
  readonly gracePeriodMs?: number;
}

export interface ZmqClientOptions extends ZmqSocketOptions {
  /** ROUTER endpoint of the server that `send()` (and DEALER `emit()`) talk to. */
  readonly connect?: string;
  /** When set, `emit()` publishes on a PUB socket bound here (fan-out) instead of the DEALER. */
  readonly publish?: string;
  /** A `send()` without a reply after this long fails with a timeout error (ms). Default 5,000. */
  readonly timeoutMs?: number;
  /** How long a request waits for a connection to the server before failing (ms). Default 1,000. */
  readonly connectTimeoutMs?: number;
  /**
   * Requests written during one turn of the event loop leave as one ZeroMQ message (sent
   * from `setImmediate`), not one each: for a caller whose requests come from many
   * independent callbacks, such as an HTTP edge. Default false: a lone request is sent at once.
   */
  readonly gatherRequests?: boolean;
}

export const ZMQ_DEFAULTS = {
  maxFrameBytes: 1024 * 1024,
  lingerMs: 100,
  highWaterMark: 100_000,
  gracePeriodMs: 2_000,
  timeoutMs: 5_000,
  connectTimeoutMs: 1_000,
} as const;
