import type { ConnectionAudit } from './connection-audit';
import { CurveKeyError, parseCurveKey, parseCurveKeyPair } from './curve-keys';
import type { ZmqCurveOptions } from './zmq.options';
import { zapHandler } from './zap-handler';

/** Socket options that make a socket a CURVE client of the server holding `serverKey`. */
export interface CurveClientSocketOptions {
  readonly curveServerKey: string;
  readonly curvePublicKey: string;
  readonly curveSecretKey: string;
}

/** Socket options of a CURVE server socket, whose ZAP domain carries its allow-list. */
export interface CurveServerSocketOptions {
  readonly curveServer: true;
  readonly curvePublicKey: string;
  readonly curveSecretKey: string;
  readonly zapDomain: string;
  /** Without a ZAP handler libzmq would admit every key; with this it admits none. */
  readonly zapEnforceDomain: true;
}

/** Validated CURVE settings of one ZmqServer or ZmqClient (throws {@link CurveKeyError}). */
export class CurveIdentity {
  readonly publicKey: string;
  readonly secretKey: string;
  private allow?: Readonly<Record<string, string>>;
  private domains: string[] = [];

  constructor(
    options: ZmqCurveOptions,
    private readonly audit: ConnectionAudit,
  ) {
    const pair = parseCurveKeyPair(options.secretKey, options.publicKey, {
      secret: 'curve.secretKey',
      public: 'curve.publicKey',
    });
    this.publicKey = pair.publicKey;
    this.secretKey = pair.secretKey;
    if (options.allow) {
      const allow: Record<string, string> = {};
      for (const [name, key] of Object.entries(options.allow))
        allow[name] = parseCurveKey(key, `curve.allow.${name}`);
      this.allow = allow;
    }
    audit.useCurve();
  }

  client(serverKey: string | undefined, field: string): CurveClientSocketOptions {
    if (serverKey === undefined)
      throw new CurveKeyError(field, 'is required with CURVE (the public key of the server)');
    return {
      curveServerKey: parseCurveKey(serverKey, field),
      curvePublicKey: this.publicKey,
      curveSecretKey: this.secretKey,
    };
  }

  /** Throws unless there is an allow-list: a server socket needs one. */
  assertCanServe(): void {
    if (!this.allow)
      throw new CurveKeyError('curve.allow', 'is required on a socket that accepts connections');
  }

  /** Registers the allow-list with the process's ZAP handler; call before binding. */
  async server(): Promise<CurveServerSocketOptions> {
    this.assertCanServe();
    const zapDomain = await zapHandler.register(this.allow!, this.audit);
    this.domains.push(zapDomain);
    return {
      curveServer: true,
      curvePublicKey: this.publicKey,
      curveSecretKey: this.secretKey,
      zapDomain,
      zapEnforceDomain: true,
    };
  }

  /**
   * Admits `name`'s key from now on (a member that joined), or no longer admits `name` when
   * `key` is undefined (a member that left). Existing connections are not cut.
   */
  setAllowed(name: string, key: string | undefined): void {
    this.assertCanServe();
    const allow = { ...this.allow! };
    if (key === undefined) delete allow[name];
    else allow[name] = parseCurveKey(key, `curve.allow.${name}`);
    this.allow = allow;
    for (const domain of this.domains) zapHandler.update(domain, allow);
  }

  /** Releases the ZAP domains; after the server sockets are closed. */
  release(): void {
    for (const domain of this.domains.splice(0)) zapHandler.unregister(domain);
  }
}
