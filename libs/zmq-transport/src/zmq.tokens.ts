/** Transport id of the ZeroMQ strategy (what `transportId` and `@MessagePattern(..., ZMQ_TRANSPORT)` use). */
export const ZMQ_TRANSPORT = Symbol('ZMQ_TRANSPORT');
