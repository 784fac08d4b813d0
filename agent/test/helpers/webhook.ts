// A webhook receiver on loopback for notification tests: every JSON POST it gets, in order.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NotificationMessage } from '../../../protocol/console-api.js';

export interface WebhookReceiver {
  url: string;
  port: number;
  received: NotificationMessage[];
  close(): void;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: NotificationMessage[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push(JSON.parse(body) as NotificationMessage);
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/`, port, received, close: () => server.close() };
}
