import { Controller, Get, Inject } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { GATEWAY_CONFIG, GatewayConfig } from '../config/gateway.config';

/** What the bundled page needs to know about this gateway: whether "add node" can work. */
@ApiExcludeController()
@Controller('ui-config')
export class UiConfigController {
  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {}

  @Get()
  get(): { launcher: boolean } {
    return { launcher: this.config.launcher !== undefined };
  }
}
