/**
 * A loopback HTTP endpoint that answers every request with one fixed AWS error, so that a real
 * SDK client (with its real retry strategy) can be driven into a throttling storm.
 * aws-sdk-client-mock replaces `send` and would bypass the retry middleware under test.
 */
import { createServer, type Server } from 'node:http';

/** A running endpoint and the number of requests it has answered. */
export interface RefusingEndpoint {
  readonly url: string;
  readonly requests: () => number;
  readonly close: () => Promise<void>;
}

/** Starts an endpoint that answers `status` with `headers` and `body` to every request. */
export async function startRefusingEndpoint(status: number, headers: Record<string, string>, body: string): Promise<RefusingEndpoint> {
  let count = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      count++;
      res.writeHead(status, { 'content-length': Buffer.byteLength(body), ...headers });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => count,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
