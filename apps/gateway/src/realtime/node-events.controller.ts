import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { BufferedEvent, ClockEvent, DeliveredEvent, NodeEvents } from '@app/contracts';
import { Metrics } from '../metrics/metrics';
import { NodesGateway } from './nodes.gateway';

/** Events every node publishes (the gateway's ZmqServer subscribes to all of them). */
@Controller()
export class NodeEventsController {
  constructor(
    private readonly gateway: NodesGateway,
    private readonly metrics: Metrics,
  ) {}

  @EventPattern(NodeEvents.delivered)
  delivered(@Payload() event: DeliveredEvent): void {
    this.metrics.relayed.inc({ event: 'delivered' }, event.messages.length);
    this.gateway.delivered(event);
  }

  @EventPattern(NodeEvents.buffered)
  buffered(@Payload() event: BufferedEvent): void {
    this.metrics.relayed.inc({ event: 'buffered' });
    this.gateway.buffered(event);
  }

  @EventPattern(NodeEvents.clock)
  clock(@Payload() event: ClockEvent): void {
    this.gateway.clock(event);
  }
}
