import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { BufferedEvent, ClockEvent, DeliveredEvent, InboxView, NodeEvents } from '@app/contracts';
import { Metrics } from '../metrics/metrics';
import { NodesGateway } from './nodes.gateway';

/** Events every node publishes (the gateway's ZmqServer subscribes to all of them). */
@Controller()
export class NodeEventsController {
  /** The counters' label children, looked up once (prom-client hashes the labels each call). */
  private readonly relayedDelivered;
  private readonly relayedBuffered;

  constructor(
    private readonly gateway: NodesGateway,
    metrics: Metrics,
  ) {
    this.relayedDelivered = metrics.relayed.labels('delivered');
    this.relayedBuffered = metrics.relayed.labels('buffered');
  }

  @EventPattern(NodeEvents.delivered)
  delivered(@Payload() event: DeliveredEvent): void {
    this.relayedDelivered.inc(event.messages.length);
    this.gateway.delivered(event);
  }

  @EventPattern(NodeEvents.buffered)
  buffered(@Payload() event: BufferedEvent): void {
    this.relayedBuffered.inc();
    this.gateway.buffered(event);
  }

  @EventPattern(NodeEvents.inbox)
  inbox(@Payload() event: InboxView): void {
    this.gateway.inbox(event);
  }

  @EventPattern(NodeEvents.clock)
  clock(@Payload() event: ClockEvent): void {
    this.gateway.clock(event);
  }
}
