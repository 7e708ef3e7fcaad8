import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The gateway's Prometheus registry. Node counters are refreshed on each scrape. */
@Injectable()
export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'gateway_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'gateway_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly relayed = new Counter({
    name: 'gateway_node_events_relayed_total',
    help: 'Node events relayed to Socket.IO',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });
  readonly nodeCounter = new Gauge({
    name: 'chat_node_counter',
    help: 'Counters reported by each node (delivered, duplicatesDropped, retransmissions, …)',
    labelNames: ['node', 'counter'] as const,
    registers: [this.registry],
  });
  readonly nodeBuffered = new Gauge({
    name: 'chat_node_buffered',
    help: 'Messages held back at each node',
    labelNames: ['node'] as const,
    registers: [this.registry],
  });
  readonly nodeUp = new Gauge({
    name: 'chat_node_up',
    help: '1 when the node answers',
    labelNames: ['node'] as const,
    registers: [this.registry],
  });
  readonly zmqRejected = new Gauge({
    name: 'gateway_zmq_connections_rejected',
    help: "Handshakes with nodes that failed on the gateway's own sockets (wrong server key, no CURVE, our key refused)",
    registers: [this.registry],
  });
  readonly socketSendsLimited = new Counter({
    name: 'gateway_socketio_sends_rate_limited_total',
    help: 'Socket.IO sends refused by the per-connection rate limit',
    registers: [this.registry],
  });
  readonly socketClients = new Gauge({
    name: 'gateway_socketio_clients',
    help: 'Connected Socket.IO clients',
    registers: [this.registry],
  });

  /** Label children by "method route status": prom-client would hash the labels each time. */
  private readonly requestChildren = new Map<
    string,
    { count: { inc(): void }; latency: { observe(seconds: number): void } }
  >();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Counts one answered HTTP request and its latency. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${route} ${status}`;
    let child = this.requestChildren.get(key);
    if (!child) {
      child = {
        count: this.requests.labels(method, route, String(status)),
        latency: this.latency.labels(method, route),
      };
      // Routes are the app's own (unmatched ones share one label): the map stays small.
      if (this.requestChildren.size < 10_000) this.requestChildren.set(key, child);
    }
    child.count.inc();
    child.latency.observe(seconds);
  }
}
