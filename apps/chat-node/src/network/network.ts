import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import type { LinkSettings } from '@app/contracts';
import type { NodeConfig } from '../config/node.config';
import { NODE_CONFIG } from '../config/node.tokens';
import { InvalidLinkSettingsError, LinkSimulator, parseLinkSettings } from './link-simulator';

/** This node's inbound links, one simulator per peer (PeerLinks adds and removes them). */
@Injectable()
export class Network implements OnModuleDestroy {
  private readonly links = new Map<string, LinkSimulator>();
  /** Links made so far: the next one's stream number. */
  private made = 0;

  constructor(@Inject(NODE_CONFIG) private readonly config: NodeConfig) {}

  /** The inbound link from a new peer, with the node's default settings. */
  add(from: string): void {
    if (this.links.has(from)) return;
    // Each link gets its own stream derived from the node's seed: replayable, independent.
    const seed = (this.config.seed + 7919 * ++this.made) >>> 0;
    this.links.set(from, new LinkSimulator(from, this.config.link, seed));
  }

  /** A peer left: its link goes (what is queued on it is dropped). */
  remove(from: string): void {
    this.links.get(from)?.close();
    this.links.delete(from);
  }

  link(from: string): LinkSimulator | undefined {
    return this.links.get(from);
  }

  settings(): Record<string, LinkSettings> {
    return Object.fromEntries([...this.links].map(([from, link]) => [from, link.current]));
  }

  set(from: unknown, untrusted: unknown): LinkSettings {
    const link = typeof from === 'string' ? this.links.get(from) : undefined;
    if (!link) {
      throw new InvalidLinkSettingsError(
        'from',
        `must be a peer of this node (${[...this.links.keys()].join(', ') || 'none'})`,
      );
    }
    return link.update(parseLinkSettings(untrusted));
  }

  reset(): Record<string, LinkSettings> {
    for (const link of this.links.values()) link.reset();
    return this.settings();
  }

  counters(): { dropped: number; duplicated: number } {
    let dropped = 0;
    let duplicated = 0;
    for (const link of this.links.values()) {
      dropped += link.counters.dropped;
      duplicated += link.counters.duplicated;
    }
    return { dropped, duplicated };
  }

  onModuleDestroy(): void {
    for (const link of this.links.values()) link.close();
  }
}
