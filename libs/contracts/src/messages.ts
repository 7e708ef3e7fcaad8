import type { ConnectionReport } from '@app/zmq-transport';
import type { MemberChange, MemberRecord } from './membership';
import type { Hlc, TimeView } from './time';
/** A clock on the wire and in every API: node id -> count, every member listed. */
export type ClockJson = Record<string, number>;

/** A chat message as every API shows it. `index`/`deliveredAt` are per node. */
export interface ChatMessage {
  readonly id: string;
  readonly sender: string;
  readonly seq: number;
  readonly clock: ClockJson;
  readonly text: string;
  readonly author?: string;
  /** The sender's clock when it originated the message (skewed if its clock is). */
  readonly sentAt: string;
  /** The hybrid logical timestamp the sender gave it: respects causality, near real time. */
  readonly hlc?: Hlc;
  /** True time (the operating system's clock) when it was originated; absent when it equals sentAt. */
  readonly trueSentAt?: string;
  /** Set on a membership entry ("n3 joined"): what it changes. */
  readonly member?: MemberChange;
  readonly index?: number;
  /** The receiving node's clock when it delivered the message. */
  readonly deliveredAt?: string;
  /** True time when it was delivered; absent when it equals deliveredAt. */
  readonly trueDeliveredAt?: string;
}

/** A chat message between replicas: also carries the sender's event-trace clock (ShiViz). */
export interface ReplicaMessage extends ChatMessage {
  readonly trace: ClockJson;
}

export interface Waiting {
  readonly node: string;
  readonly seq: number;
}

export interface HeldBackView {
  readonly message: ChatMessage;
  readonly waitingFor: Waiting[];
}

export interface SendRequest {
  readonly text: string;
  readonly author?: string;
}

export interface HistoryRequest {
  readonly after?: number;
  readonly limit?: number;
}

export interface HistoryPage {
  readonly nodeId: string;
  readonly messages: ChatMessage[];
  /**
   * Index of the last delivery this node has announced and lists (0 when none): own
   * messages whose fsync is still running, and what was delivered after them, come later.
   */
  readonly lastIndex: number;
}

export interface FetchRange {
  readonly node: string;
  readonly fromSeq: number;
  readonly toSeq: number;
}

export interface FetchRequest {
  readonly from: string;
  readonly ranges: FetchRange[];
}

export interface Heartbeat {
  readonly from: string;
  readonly clock: ClockJson;
}

export interface LinkSettings {
  readonly delayMs: number;
  readonly jitterMs: number;
  readonly dropRate: number;
  readonly duplicateRate: number;
  readonly partitioned: boolean;
}

export interface NetworkSetRequest {
  readonly from: string;
  readonly settings: Partial<LinkSettings>;
}

export interface PeerView {
  readonly id: string;
  readonly reachable: boolean;
  readonly lastHeardMsAgo: number | null;
  readonly clock: ClockJson | null;
}

export interface NodeCounters {
  sent: number;
  received: number;
  delivered: number;
  duplicatesDropped: number;
  retransmissions: number;
  repairRequests: number;
  overflows: number;
  rejected: number;
  /** Copies refused because a paused inbox was full (fetched again by repair). */
  inboxOverflow: number;
  linkDropped: number;
  linkDuplicated: number;
}

export interface NodeState {
  readonly nodeId: string;
  /** The members that are not retired, as this node knows them. */
  readonly members: string[];
  /** Every member this node has known, retired ones included, with address and state. */
  readonly membership: MemberRecord[];
  readonly clock: ClockJson;
  /** As in HistoryPage: history up to it, then live `delivered` events, misses nothing. */
  readonly lastIndex: number;
  readonly buffered: HeldBackView[];
  readonly bufferCapacity: number;
  readonly maxHeld: number;
  readonly peers: PeerView[];
  readonly links: Record<string, LinkSettings>;
  /** connectionsRejected: handshakes refused on the node's sockets (unknown key, no CURVE, wrong server key), retries included. */
  readonly counters: NodeCounters & { readonly connectionsRejected: number };
  /** Who connected to this node's sockets (by key name) and who was refused. */
  readonly connections: ConnectionReport;
  readonly startedAt: string;
  /** The node's physical clock, its synchronization and its estimates of its peers. */
  readonly time: TimeView;
}

/** ShiViz's default parser regex; a log is this, a blank line, then two lines per event. */
export const SHIVIZ_REGEX = '(?<host>\\S*) (?<clock>{.*})\\n(?<event>.*)';
export const SHIVIZ_HEADER = `${SHIVIZ_REGEX}\n\n`;

/** One page of a node's event log (`node.log {after?, limit?}`), as ShiViz lines. */
export interface LogPage {
  readonly nodeId: string;
  readonly format: 'shiviz';
  /** Two lines per event, without the parser header (the gateway writes that once). */
  readonly text: string;
  readonly events: number;
  /** The `after` of the next page, or null when this page reached the end. */
  readonly next: number | null;
}

/** Gateway-bound events. */
export interface DeliveredEvent {
  readonly nodeId: string;
  readonly messages: ChatMessage[];
  readonly clock: ClockJson;
}

export interface BufferedEvent {
  readonly nodeId: string;
  readonly held: HeldBackView;
}

export interface ClockEvent {
  readonly nodeId: string;
  readonly clock: ClockJson;
  readonly buffered: number;
}
