import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';
import { Limits } from '@app/contracts';

/** Events in one answer of GET /nodes/:id/log unless `limit` says otherwise, and the most. */
export const LOG_LIMIT_DEFAULT = 10_000;
export const LOG_LIMIT_MAX = 20_000;

const trim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);

export class SendMessageDto {
  @ApiProperty({
    example: 'Hello',
    minLength: 1,
    maxLength: Limits.textMaxChars,
    description: 'Trimmed before the length check.',
  })
  @Transform(trim)
  @IsString()
  @MinLength(1, { message: 'text must not be empty' })
  @MaxLength(Limits.textMaxChars, {
    message: `text must be at most ${Limits.textMaxChars} characters`,
  })
  text!: string;

  @ApiPropertyOptional({ example: 'ana', maxLength: Limits.authorMaxChars })
  @IsOptional()
  @Transform(trim)
  @IsString()
  @MaxLength(Limits.authorMaxChars, {
    message: `author must be at most ${Limits.authorMaxChars} characters`,
  })
  author?: string;

  @ApiPropertyOptional({
    example: 'n0:3',
    description:
      'The message this one answers. The node first waits (bounded) until it has delivered it, so the reply is causally after it everywhere; 409 if it has not arrived in time.',
  })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z][A-Za-z0-9_-]{0,31}:[1-9]\d{0,14}$/, {
    message: 'replyTo must be a message id like n0:3',
  })
  replyTo?: string;
}

export class HistoryQueryDto {
  @ApiPropertyOptional({
    description: 'Return deliveries with index greater than this.',
    default: 0,
    minimum: 0,
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  after?: number;

  @ApiPropertyOptional({ default: 100, minimum: 1, maximum: Limits.historyPageMax })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(Limits.historyPageMax)
  limit?: number;
}

export class LogQueryDto {
  @ApiPropertyOptional({ enum: ['shiviz'], default: 'shiviz' })
  @IsOptional()
  @IsString()
  format?: string;

  @ApiPropertyOptional({
    description:
      'Cursor: start after this point of the log (0: from the start; a previous answer gives the next one in `X-Next-After`).',
    default: 0,
    minimum: 0,
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'after must be a non-negative integer' })
  @Min(0, { message: 'after must be a non-negative integer' })
  after?: number;

  @ApiPropertyOptional({
    description: `Events in the answer (whole commits, so a few more), at most ${LOG_LIMIT_MAX}; \`all\` streams the whole log from \`after\`.`,
    default: String(LOG_LIMIT_DEFAULT),
    example: 'all',
  })
  @IsOptional()
  @Matches(/^(all|[1-9][0-9]{0,6})$/, {
    message: `limit must be "all" or an integer from 1 to ${LOG_LIMIT_MAX}`,
  })
  limit?: string;
}

export class HlcView {
  @ApiProperty({ example: 1764072000000 }) wallMs!: number;
  @ApiProperty({ example: 0 }) logical!: number;
}

export class ChatMessageView {
  @ApiProperty({ example: 'n0:1' }) id!: string;
  @ApiProperty({ example: 'n0' }) sender!: string;
  @ApiProperty({ example: 1 }) seq!: number;
  @ApiProperty({
    example: { n0: 1, n1: 0, n2: 0 },
    type: 'object',
    additionalProperties: { type: 'integer' },
  })
  clock!: Record<string, number>;
  @ApiProperty({ example: 'Hello' }) text!: string;
  @ApiPropertyOptional({ example: 'ana' }) author?: string;
  @ApiProperty({
    example: '2026-11-25T12:00:00.000Z',
    description: "The sender's clock when it originated the message (wrong if its clock is).",
  })
  sentAt!: string;
  @ApiPropertyOptional({
    type: HlcView,
    description: 'Hybrid logical timestamp: ordered by wallMs then logical, respects causality.',
  })
  hlc?: HlcView;
  @ApiPropertyOptional({
    example: '2026-11-25T12:00:00.000Z',
    description:
      'True time (the operating system’s clock) at the sender when it originated; absent when it equals sentAt.',
  })
  trueSentAt?: string;
  @ApiPropertyOptional({ example: 1, description: "Position in this node's delivery order." })
  index?: number;
  @ApiPropertyOptional({
    example: '2026-11-25T12:00:00.000Z',
    description: "The receiving node's clock when it delivered the message.",
  })
  deliveredAt?: string;
  @ApiPropertyOptional({
    example: '2026-11-25T12:00:00.000Z',
    description: 'True time of delivery.',
  })
  trueDeliveredAt?: string;
}

export class WaitingView {
  @ApiProperty({ example: 'n0' }) node!: string;
  @ApiProperty({ example: 3 }) seq!: number;
}

export class HeldBackViewDto {
  @ApiProperty({ type: ChatMessageView }) message!: ChatMessageView;
  @ApiProperty({ type: [WaitingView] }) waitingFor!: WaitingView[];
}

export class HistoryPageView {
  @ApiProperty({ example: 'n0' }) nodeId!: string;
  @ApiProperty({ type: [ChatMessageView] }) messages!: ChatMessageView[];
  @ApiProperty({ example: 42 }) lastIndex!: number;
}

export class NodeSummaryView {
  @ApiProperty({ example: 'n0' }) id!: string;
  @ApiProperty({
    enum: ['admitted', 'active'],
    description: 'admitted: it may join and is catching up; active: it joined',
  })
  member!: string;
  @ApiProperty({ example: true }) up!: boolean;
  @ApiPropertyOptional({
    example: { n0: 1, n1: 0, n2: 0 },
    type: 'object',
    additionalProperties: { type: 'integer' },
  })
  clock?: Record<string, number>;
  @ApiPropertyOptional({ example: 0 }) buffered?: number;
  @ApiPropertyOptional({ example: 12 }) lastIndex?: number;
}

export class ErrorView {
  @ApiProperty({ example: 400 }) statusCode!: number;
  @ApiProperty({ example: 'Bad Request' }) error!: string;
  @ApiProperty({
    example: 'text must not be empty',
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
  })
  message!: string | string[];
}
