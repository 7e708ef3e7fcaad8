import { parseReplicaMessage, parseSendRequest } from './replica-message.parser';

const members = new Set(['n0', 'n1']);
const good = {
  sender: 'n1',
  seq: 2,
  clock: { n0: 1, n1: 2 },
  text: 'Hi',
  sentAt: '2026-01-01T00:00:00.000Z',
  trace: { n1: 5 },
};

describe('parseReplicaMessage', () => {
  it('accepts a well-formed message', () => {
    const message = parseReplicaMessage(good, members);
    expect(message.id).toBe('n1:2');
    expect(message.clock.toJSON()).toEqual({ n0: 1, n1: 2 });
    expect(message.trace).toEqual({ n1: 5 });
  });

  it.each([
    [{ ...good, sender: 'n9' }, /^sender/],
    [{ ...good, seq: 0 }, /^seq: must be a positive/],
    [{ ...good, seq: 3 }, /^seq: must equal clock.n1 \(2\)/],
    [{ ...good, clock: { n1: 2, n5: 1 } }, /^clock.n5: is not a member/],
    [
      { ...good, clock: { n0: 1, n1: 2, n5: 1 } },
      /^clock: has 3 entries; the cluster has 2 members/,
    ],
    [{ ...good, clock: { n0: -1, n1: 2 } }, /^clock.n0: must be a non-negative/],
    [{ ...good, text: '' }, /^text/],
    [{ ...good, text: 'x'.repeat(2001) }, /^text: must be a string of 1..2000/],
    [{ ...good, author: 'a'.repeat(65) }, /^author/],
    [{ ...good, sentAt: 'yesterday' }, /^sentAt/],
    [{ ...good, trace: { zz: 1 } }, /^trace.zz/],
    ['text', /^message: must be an object/],
  ])('rejects %j', (input, error) => {
    expect(() => parseReplicaMessage(input, members)).toThrow(error);
  });
});

describe('parseSendRequest', () => {
  it('trims text and author and drops an empty author', () => {
    expect(parseSendRequest({ text: '  hello  ', author: ' ana ' })).toEqual({
      text: 'hello',
      author: 'ana',
    });
    expect(parseSendRequest({ text: 'x', author: '   ' })).toEqual({ text: 'x' });
  });

  it.each([
    [{}, 'text: must be a string'],
    [{ text: '   ' }, 'text: must not be empty'],
    [{ text: 'x'.repeat(2001) }, 'text: must be at most 2000 characters, got 2001'],
    [{ text: 'x', author: 'a'.repeat(65) }, 'author: must be a string of at most 64 characters'],
  ])('rejects %j', (input, message) => {
    expect(() => parseSendRequest(input)).toThrow(message);
  });
});

describe('parseSendRequest replyTo', () => {
  const members = new Set(['n0', 'n1']);
  it('parses a cause id', () => {
    expect(parseSendRequest({ text: 'yes', replyTo: 'n1:12' }, members)).toEqual({
      text: 'yes',
      replyTo: { sender: 'n1', seq: 12 },
    });
  });
  it.each(['n9:1', 'n0:0', 'n0', 'x:y', 42])('rejects replyTo %j', (replyTo) => {
    expect(() => parseSendRequest({ text: 'x', replyTo }, members)).toThrow(
      /^replyTo: must be a message id/,
    );
  });
});
