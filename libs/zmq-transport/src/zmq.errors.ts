export type ZmqRequestFailure = 'timeout' | 'unreachable' | 'closed' | 'overloaded';

/** Why a `send()` failed without a reply from the server; `endpoint` says which server. */
export class ZmqRequestError extends Error {
  constructor(
    readonly code: ZmqRequestFailure,
    readonly endpoint: string,
    readonly pattern: string,
    detail: string,
  ) {
    super(`${pattern} to ${endpoint}: ${detail}`);
    this.name = 'ZmqRequestError';
  }
}
