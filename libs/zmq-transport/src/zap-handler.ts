import { randomUUID } from 'node:crypto';
import { Reply } from 'zeromq';
import type { ConnectionAudit } from './connection-audit';
import { z85Decode, z85Encode } from './curve-keys';

/** Where libzmq asks who may connect (ZeroMQ RFC 27), one per ZeroMQ context. */
const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';

interface Policy {
  /** raw public key (hex) -> the peer's name */
  allow: ReadonlyMap<string, string>;
  readonly audit: ConnectionAudit;
}

/**
 * The process's ZAP handler. libzmq asks it about every CURVE handshake on a server socket
 * (ROUTER, bound PUB); each such socket gets a ZAP domain of its own, registered here with
 * its allow-list, so servers with different allow-lists share the one handler a context
 * can have. It binds when the first socket registers and closes with the last, so a
 * process that closed its sockets can exit.
 */
class ZapHandler {
  private readonly policies = new Map<string, Policy>();
  private socket?: Reply;
  private opening?: Promise<void>;

  /** Registers an allow-list (name -> Z85 public key); resolves with the domain to set on the socket. */
  async register(allow: Readonly<Record<string, string>>, audit: ConnectionAudit): Promise<string> {
    const domain = `causal-chat.${randomUUID()}`;
    this.policies.set(domain, { allow: rawKeys(allow), audit });
    try {
      await (this.opening ??= this.open());
    } catch (error) {
      this.policies.delete(domain);
      this.opening = undefined;
      throw error;
    }
    return domain;
  }

  /**
   * Replaces a domain's allow-list. It applies to handshakes from now on; a connection
   * already admitted stays up until either side closes it.
   */
  update(domain: string, allow: Readonly<Record<string, string>>): void {
    const policy = this.policies.get(domain);
    if (policy) policy.allow = rawKeys(allow);
  }

  unregister(domain: string): void {
    if (!this.policies.delete(domain) || this.policies.size > 0) return;
    this.opening = undefined;
    const socket = this.socket;
    this.socket = undefined;
    if (socket && !socket.closed) socket.close();
  }

  private async open(): Promise<void> {
    const socket = new Reply({ linger: 0 });
    // A handler closed a moment ago may still hold the endpoint while libzmq reaps it.
    for (let attempt = 0; ; attempt++) {
      try {
        await socket.bind(ZAP_ENDPOINT);
        break;
      } catch (error) {
        if (attempt >= 50 || (error as { code?: string }).code !== 'EADDRINUSE') {
          socket.close();
          throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    this.socket = socket;
    void this.serve(socket);
  }

  private async serve(socket: Reply): Promise<void> {
    try {
      for await (const request of socket) await socket.send(this.answer(request));
    } catch {
      // closed
    }
  }

  /** RFC 27: [version, id, domain, address, identity, mechanism, credentials…] -> [version, id, status, text, user, metadata]. */
  private answer(request: Buffer[]): (Buffer | string)[] {
    const [version, id, domain, address, , mechanism, credential] = request;
    const deny = (status: '400' | '500', text: string) => [version, id, status, text, '', ''];
    const policy = domain ? this.policies.get(domain.toString()) : undefined;
    if (!policy) return deny('500', 'no policy for this socket');
    const from = address?.toString() || 'unknown address';
    if (mechanism?.toString() !== 'CURVE' || !credential || credential.length !== 32) {
      policy.audit.reject('in', from, 'not a CURVE client');
      return deny('400', 'CURVE required');
    }
    const name = policy.allow.get(credential.toString('hex'));
    if (name === undefined) {
      policy.audit.reject('in', from, `unknown CURVE key ${z85Encode(credential).slice(0, 8)}…`);
      return deny('400', 'key not allowed');
    }
    policy.audit.admit(name, from);
    return [version, id, '200', 'OK', name, ''];
  }
}

/** name -> Z85 key as raw key (hex) -> name, what a handshake's credential is looked up by. */
function rawKeys(allow: Readonly<Record<string, string>>): Map<string, string> {
  const keys = new Map<string, string>();
  for (const [name, key] of Object.entries(allow)) keys.set(z85Decode(key).toString('hex'), name);
  return keys;
}

/** The one ZAP handler of this process's ZeroMQ context. */
export const zapHandler = new ZapHandler();
