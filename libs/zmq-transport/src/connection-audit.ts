import { Logger } from '@nestjs/common';
import type { Event, Socket } from 'zeromq';

/** `in`: someone connecting to a socket of ours was refused; `out`: a server we connect to refused us or failed its handshake. */
export type ConnectionDirection = 'in' | 'out';

export interface RejectedConnection {
  readonly direction: ConnectionDirection;
  /** The peer's IP address when ZAP saw it; otherwise the endpoint of our socket (ZeroMQ reports handshake failures that way). */
  readonly address: string;
  readonly reason: string;
  attempts: number;
  readonly firstAt: string;
  lastAt: string;
}

export interface AdmittedPeer {
  /** The name its public key is listed under. */
  readonly name: string;
  readonly address: string;
  connections: number;
  readonly firstAt: string;
  lastAt: string;
}

export interface ConnectionReport {
  readonly curve: boolean;
  readonly admitted: AdmittedPeer[];
  readonly rejected: RejectedConnection[];
  /** Every refused handshake, including retries and peers past the tracked limit. */
  readonly rejectedTotal: number;
}

/** Distinct peers and reasons kept in a report; past it a hostile network is only counted. */
const TRACKED_LIMIT = 256;

/**
 * Who connected to this process's ZeroMQ sockets and who was refused. A refused peer is
 * logged once per address and reason, then only counted: libzmq retries a refused
 * connection every ~100 ms, and a log line per retry would bury everything else.
 */
export class ConnectionAudit {
  private readonly logger = new Logger('ZeroMQ');
  private readonly admittedPeers = new Map<string, AdmittedPeer>();
  private readonly rejectedPeers = new Map<string, RejectedConnection>();
  private total = 0;
  private curveOn = false;
  private readonly listeners: ((rejection: RejectedConnection) => void)[] = [];

  /** Marks this process as running CURVE (reports say so). */
  useCurve(): void {
    this.curveOn = true;
  }

  get rejectedTotal(): number {
    return this.total;
  }

  /** Called for every refused handshake (after it is counted). */
  onRejected(listener: (rejection: RejectedConnection) => void): void {
    this.listeners.push(listener);
  }

  admit(name: string, address: string): void {
    const key = `${name} ${address}`;
    const now = new Date().toISOString();
    const known = this.admittedPeers.get(key);
    if (known) {
      known.connections++;
      known.lastAt = now;
      return;
    }
    if (this.admittedPeers.size >= TRACKED_LIMIT) return;
    this.admittedPeers.set(key, { name, address, connections: 1, firstAt: now, lastAt: now });
    this.logger.log(`${name} connected from ${address} (CURVE key verified)`);
  }

  reject(direction: ConnectionDirection, address: string, reason: string): void {
    this.total++;
    const key = `${direction} ${address} ${reason}`;
    const now = new Date().toISOString();
    let rejection = this.rejectedPeers.get(key);
    if (rejection) {
      rejection.attempts++;
      rejection.lastAt = now;
    } else {
      rejection = { direction, address, reason, attempts: 1, firstAt: now, lastAt: now };
      if (this.rejectedPeers.size < TRACKED_LIMIT) this.rejectedPeers.set(key, rejection);
      this.logger.warn(
        direction === 'in'
          ? `refused a connection ${address.includes('://') ? 'on' : 'from'} ${address}: ${reason}; further attempts are only counted`
          : `connection to ${address} failed its handshake: ${reason}; further attempts are only counted`,
      );
    }
    for (const listener of this.listeners) listener(rejection);
  }

  report(): ConnectionReport {
    return {
      curve: this.curveOn,
      admitted: [...this.admittedPeers.values()].map((peer) => ({ ...peer })),
      rejected: [...this.rejectedPeers.values()].map((rejection) => ({ ...rejection })),
      rejectedTotal: this.total,
    };
  }

  /**
   * Reads a socket's event stream for failed handshakes. `role` is the socket's CURVE role:
   * a server's ZAP refusals are recorded by the ZAP handler (which knows the peer's
   * address), so only the handshakes that fail before ZAP is asked are recorded here.
   * `onEvent` sees every event (one reader per stream: the client tracks its connection).
   */
  watch(socket: Socket, role: 'server' | 'client', onEvent?: (event: Event) => void): void {
    void (async () => {
      try {
        for await (const event of socket.events) {
          onEvent?.(event);
          const reason = handshakeFailure(event, role);
          if (reason && 'address' in event)
            this.reject(role === 'server' ? 'in' : 'out', event.address, reason);
        }
      } catch {
        // the socket closed
      }
    })();
  }
}

function handshakeFailure(event: Event, role: 'server' | 'client'): string | undefined {
  switch (event.type) {
    case 'handshake:error:auth':
      return role === 'client' ? 'the server refused our CURVE key' : undefined;
    case 'handshake:error:protocol':
      if (event.error.code === 'ERR_ZMTP_MECHANISM_MISMATCH')
        return role === 'server'
          ? 'not a CURVE client (plaintext)'
          : 'the server does not run CURVE (plaintext)';
      if (event.error.code === 'ERR_ZMTP_CRYPTOGRAPHIC')
        return role === 'server'
          ? 'CURVE handshake failed: the client expects another server key'
          : 'CURVE handshake failed: the server does not hold the expected key';
      return `handshake failed (${event.error.code})`;
    case 'handshake:error:other':
      return role === 'server'
        ? `handshake failed (${event.error.code ?? 'unspecified'})`
        : `handshake failed (${event.error.code ?? 'unspecified'}): wrong server key, or not CURVE`;
    default:
      return undefined;
  }
}
