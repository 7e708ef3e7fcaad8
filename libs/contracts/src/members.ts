/** One replica and where to reach it. */
export interface Member {
  readonly id: string;
  /** ROUTER endpoint: requests (gateway, peers' fetches). */
  readonly rpc: string;
  /** PUB endpoint: replica traffic and gateway events. */
  readonly pub: string;
}

export const NODE_ID_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;

export class ConfigError extends Error {
  constructor(variable: string, reason: string) {
    super(`${variable}: ${reason}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses `CHAT_MEMBERS`: comma-separated `id=host:port`, e.g.
 * `n0=127.0.0.1:7100,n1=127.0.0.1:7110`. A member answers requests on `port` and publishes
 * on `port + 1`.
 */
export function parseMembers(value: string | undefined, variable = 'CHAT_MEMBERS'): Member[] {
  if (!value || value.trim() === '') {
    throw new ConfigError(variable, 'is required, e.g. n0=127.0.0.1:7100,n1=127.0.0.1:7110');
  }
  const members: Member[] = [];
  for (const entry of value.split(',').map((part) => part.trim())) {
    const match = /^([^=]+)=(.+):(\d+)$/.exec(entry);
    if (!match) throw new ConfigError(variable, `entry "${entry}" is not id=host:port`);
    const [, id, host, portText] = match;
    if (!NODE_ID_PATTERN.test(id)) {
      throw new ConfigError(
        variable,
        `node id "${id}" must be a letter then up to 31 letters, digits, _ or -`,
      );
    }
    const port = Number(portText);
    if (port < 1 || port > 65534)
      throw new ConfigError(variable, `port of ${id} must be 1..65534, got ${port}`);
    if (members.some((m) => m.id === id))
      throw new ConfigError(variable, `node id "${id}" appears twice`);
    members.push({ id, rpc: `tcp://${host}:${port}`, pub: `tcp://${host}:${port + 1}` });
  }
  return members;
}

/** `n0=127.0.0.1:7100,...` for `count` nodes on one host, ports `base`, `base + 10`, … */
export function localMembers(count: number, base = 7100, host = '127.0.0.1'): string {
  return Array.from({ length: count }, (_, i) => `n${i}=${host}:${base + 10 * i}`).join(',');
}
