import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsNumber, IsOptional, Max, Min } from 'class-validator';
import { ClockLimits, SYNC_MODES, SyncMode } from '@app/contracts';

export class ClockSettingsDto {
  @ApiPropertyOptional({
    example: -5000,
    minimum: -ClockLimits.offsetMs,
    maximum: ClockLimits.offsetMs,
    description: 'How far the node’s physical clock is from true time (ms; ±7 days).',
  })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(-ClockLimits.offsetMs)
  @Max(ClockLimits.offsetMs)
  offsetMs?: number;

  @ApiPropertyOptional({
    example: 200,
    minimum: -ClockLimits.driftPpm,
    maximum: ClockLimits.driftPpm,
    description: 'How fast it runs wrong (parts per million: 1,000 ppm = 3.6 s an hour).',
  })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(-ClockLimits.driftPpm)
  @Max(ClockLimits.driftPpm)
  driftPpm?: number;
}

export class SyncModeDto {
  @ApiProperty({ enum: SYNC_MODES, example: 'berkeley' })
  @IsIn(SYNC_MODES)
  mode!: SyncMode;
}

export class ClockView {
  @ApiProperty({ example: 'n0' }) nodeId!: string;
  @ApiProperty({
    example: -5000,
    description: 'Raw clock − true time now (offset + drift so far).',
  })
  offsetMs!: number;
  @ApiProperty({ example: 0 }) driftPpm!: number;
  @ApiProperty({ description: 'The time the node uses: raw, or corrected while sync is on.' })
  now!: string;
  @ApiProperty({ description: 'The raw physical clock.' }) rawNow!: string;
  @ApiProperty({ example: 0, description: 'What synchronization adds to the raw clock.' })
  correctionMs!: number;
  @ApiProperty({ enum: SYNC_MODES }) sync!: SyncMode;
}

export class ClocksView {
  @ApiProperty({ description: 'The gateway’s true time (its operating-system clock).' })
  now!: string;
  @ApiProperty({ type: [ClockView] }) clocks!: ClockView[];
  @ApiProperty({ example: [] }) unreachable!: string[];
}
