import type { ChatMessage, Waiting } from './messages';

/** How a copy reached the inbox: published live, fetched by repair, or a duplicate. */
export type FlightKind = 'message' | 'repair' | 'duplicate';

/** `hold-back`: pause by itself the moment the node has to hold a message back. */
export const BREAK_ON = ['none', 'hold-back'] as const;
export type BreakOn = (typeof BREAK_ON)[number];

export const INBOX_ACTIONS = ['deliver', 'drop', 'duplicate'] as const;
export type InboxAction = (typeof INBOX_ACTIONS)[number];

/** One parked copy of a message on its way into a paused node. */
export interface Flight {
  readonly flightId: string;
  readonly from: string;
  readonly kind: FlightKind;
  readonly message: ChatMessage;
  /** The node's clock when it arrived (ISO). */
  readonly arrivedAt: string;
}

/** A node's inbox: `inbox.get`, the answer to `inbox.set`, and the `node.inbox` event. */
export interface InboxView {
  readonly nodeId: string;
  readonly paused: boolean;
  /** Why it is paused: the operator, or its hold-back breakpoint. */
  readonly pausedBy: 'operator' | 'hold-back' | null;
  readonly breakOn: BreakOn;
  readonly inFlight: Flight[];
  /** How many copies it may park; more are refused (counted) and fetched again by repair. */
  readonly capacity: number;
  /** Copies refused because the tray was full, since the node started. */
  readonly overflow: number;
}

/** What one action on a parked copy did. */
export interface InboxActionResult {
  readonly nodeId: string;
  readonly flightId: string;
  readonly action: InboxAction;
  /** For `deliver`: what the causal buffer made of it. */
  readonly outcome?: 'delivered' | 'held-back' | 'duplicate-dropped' | 'refused';
  /** Ids delivered as a result, in order (the message, and held-back ones it released). */
  readonly delivered?: string[];
  readonly waitingFor?: Waiting[];
  /** For `duplicate`: the new copy's flight. */
  readonly copy?: string;
}
