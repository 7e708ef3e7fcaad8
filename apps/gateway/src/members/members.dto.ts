import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';

const ID = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;
const ID_MESSAGE = 'id must be a letter then up to 31 letters, digits, _ or -';

export class AdmitMemberDto {
  @ApiProperty({ example: 'n3', description: 'The new member id: never one used before.' })
  @IsString()
  @Matches(ID, { message: ID_MESSAGE })
  id!: string;

  @ApiProperty({
    example: '127.0.0.1:7130',
    description: "host:port of the new node's ROUTER; it publishes on port + 1.",
  })
  @IsString()
  @MaxLength(300)
  @Matches(/^[^\s:/]+:\d{1,5}$/, { message: 'address must be host:port, e.g. 127.0.0.1:7130' })
  address!: string;

  @ApiPropertyOptional({
    example: 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7',
    description: "The new node's CURVE public key (Z85, 40 characters); required with CURVE on.",
  })
  @IsOptional()
  @IsString()
  @Length(40, 40, { message: 'publicKey must be a 40-character Z85 CURVE public key' })
  publicKey?: string;
}

export class AddNodeDto {
  @ApiProperty({
    example: 'n3',
    description: 'The new node id (the launcher picks its port and keys).',
  })
  @IsString()
  @Matches(ID, { message: ID_MESSAGE })
  id!: string;
}

export class MemberView {
  @ApiProperty({ example: 'n3' }) id!: string;
  @ApiProperty({ example: '127.0.0.1:7130' }) address!: string;
  @ApiProperty({ enum: ['admitted', 'active', 'retired'] }) state!: string;
  @ApiPropertyOptional({
    example: 'n0:42',
    nullable: true,
    description: 'The log entry that put it in this state.',
  })
  since!: string | null;
  @ApiPropertyOptional() publicKey?: string;
}

export class MembershipViewDto {
  @ApiProperty({ example: 'n0', description: 'The node whose view this is.' }) nodeId!: string;
  @ApiProperty({ example: 3, description: 'How many membership changes it has applied.' })
  version!: number;
  @ApiProperty({ type: [MemberView] }) members!: MemberView[];
}

export class AddedNodeView {
  @ApiProperty({ example: 'n3' }) id!: string;
  @ApiProperty({ example: '127.0.0.1:7130' }) address!: string;
  @ApiProperty({ example: 4242 }) pid!: number;
}
