import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsOptional } from 'class-validator';
import { BREAK_ON, BreakOn, INBOX_ACTIONS, InboxAction } from '@app/contracts';

export class InboxSettingsDto {
  @ApiPropertyOptional({
    example: true,
    description: 'Pause: park every copy that arrives; resume: release them in arrival order.',
  })
  @IsOptional()
  @IsBoolean()
  paused?: boolean;

  @ApiPropertyOptional({
    enum: BREAK_ON,
    description: '`hold-back`: pause by itself the moment a message has to be held back.',
  })
  @IsOptional()
  @IsIn(BREAK_ON)
  breakOn?: BreakOn;
}

export class InboxActionDto {
  @ApiProperty({
    enum: INBOX_ACTIONS,
    description:
      'deliver: hand it to the causal buffer now; drop: discard this copy (repair fetches it again); duplicate: park a second copy',
  })
  @IsIn(INBOX_ACTIONS)
  action!: InboxAction;
}
