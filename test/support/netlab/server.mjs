// TCP listener of the lab's server namespace: accepts every connection and closes it at once, so
// the accept queue never fills however many probes connect. Prints "ready" once listening.
// Usage: node server.mjs <port>
import { createServer } from 'node:net';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`server: bad port ${process.argv[2]}`);
  process.exit(2);
}
const server = createServer((socket) => {
  socket.on('error', () => {});
  socket.destroy();
});
server.listen({ port, host: '0.0.0.0', backlog: 4096 }, () => console.log('ready'));
// The lab keeps stdin open; its end means the lab (or the process that made it) is gone.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
