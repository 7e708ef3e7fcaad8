// e2e tests start real processes; their own waits carry precise deadlines.
jest.setTimeout(180_000);
