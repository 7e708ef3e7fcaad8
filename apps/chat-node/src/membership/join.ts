import { randomUUID } from 'node:crypto';
import { addressOf, JoinGrant, MemberRecord, Requests } from '@app/contracts';
import { ZmqClient, ZmqRequestError } from '@app/zmq-transport';
import type { NodeConfig } from '../config/node.config';
import { MessageLog } from '../storage/message-log';
import { JOIN_CLIENTS_KEY, JOIN_GRANT_KEY, MEMBERSHIP_KEY, StoredGrant } from './membership';

/** A node that cannot start because of its place in the membership; says why, and what to do. */
export class MembershipError extends Error {
  constructor(
    message: string,
    /** The process's exit code: 10 when the node is retired (nothing will change that). */
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'MembershipError';
  }
}

/**
 * Before a node starts: refuses a retired one; for a joiner on an empty data file, asks the
 * member at CHAT_JOIN for its grant and keeps it (membership, and the clock to catch up to)
 * in the data file, so a restart during catch-up resumes without asking again. Returns the
 * configuration to start with: the grant's gateway keys admitted besides the members'.
 */
export async function prepareMembership(config: NodeConfig, log: MessageLog): Promise<NodeConfig> {
  const stored = log.restored.meta[MEMBERSHIP_KEY];
  if (stored) {
    const self = (JSON.parse(stored) as { members: MemberRecord[] }).members.find(
      (m) => m.id === config.nodeId,
    );
    if (self?.state === 'retired')
      throw new MembershipError(
        `node ${config.nodeId} was retired from the cluster (entry ${self.since}); its data stays in ${log.file}. A retired id never comes back: admit and join a new id to add a node`,
        10,
      );
    const clients = log.restored.meta[JOIN_CLIENTS_KEY];
    return clients ? withClients(config, JSON.parse(clients) as Record<string, string>) : config;
  }
  if (!config.join) return config;
  const grant = await requestJoin(config);
  log.writeMeta({
    [MEMBERSHIP_KEY]: JSON.stringify({ version: grant.version, members: grant.members }),
    [JOIN_GRANT_KEY]: JSON.stringify({ clock: grant.clock } satisfies StoredGrant),
    [JOIN_CLIENTS_KEY]: JSON.stringify(grant.clients),
  });
  return withClients(config, grant.clients);
}

/** The gateways' keys a member admits, admitted here too. */
function withClients(config: NodeConfig, clients: Record<string, string>): NodeConfig {
  if (!config.curve) return config;
  return {
    ...config,
    curve: { ...config.curve, publicKeys: { ...clients, ...config.curve.publicKeys } },
  };
}

/**
 * Asks the member at CHAT_JOIN for the grant for up to CHAT_JOIN_TIMEOUT_MS. The admission is
 * an entry of the log: the member asked may deliver it (and admit the joiner's key) a moment
 * after the operator got the answer from another member, so "not admitted" is retried.
 */
async function requestJoin(config: NodeConfig): Promise<JoinGrant> {
  const deadline = performance.now() + config.join!.timeoutMs;
  const nonce = randomUUID();
  for (;;) {
    try {
      return await askOnce(config, nonce, Math.max(500, deadline - performance.now()));
    } catch (error) {
      const retry = (error as { retry?: boolean }).retry === true;
      if (!retry || performance.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

async function askOnce(config: NodeConfig, nonce: string, timeoutMs: number): Promise<JoinGrant> {
  const join = config.join!;
  const client = new ZmqClient({
    connect: join.rpc,
    timeoutMs,
    connectTimeoutMs: timeoutMs,
    curve: config.curve && { ...config.curve.self, serverKey: join.publicKey },
  });
  try {
    const grant = await client.request<JoinGrant>(Requests.join, {
      id: config.nodeId,
      address: addressOf(config.self),
      nonce,
    });
    if (!grant || !Array.isArray(grant.members) || typeof grant.clock !== 'object')
      throw new MembershipError(`CHAT_JOIN: ${join.address} answered without a grant`, 2);
    return grant;
  } catch (error) {
    if (error instanceof MembershipError) throw error;
    if (error instanceof ZmqRequestError)
      throw new MembershipError(
        `CHAT_JOIN: no answer from ${join.address} within ${join.timeoutMs / 1000} s (${error.code}): is a member running there${config.curve ? `, was ${config.nodeId} admitted with this node's public key (POST /cluster/members), and is CHAT_JOIN_KEY that member's public key` : ''}?`,
        2,
      );
    const refusal = error as { code?: string; message?: string };
    throw Object.assign(
      new MembershipError(
        `CHAT_JOIN: ${join.address} refused ${config.nodeId}: ${refusal.message ?? String(error)}`,
        2,
      ),
      // Not admitted (yet): the admission may still be on its way to this member.
      { retry: refusal.code === 'UNKNOWN' },
    );
  } finally {
    await client.close();
  }
}
