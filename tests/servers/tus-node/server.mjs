// The tus 1.0 reference server for Node, as tests/it/upload.rs runs it:
// `node server.mjs DIR [PORT [HOST]]` serves tus uploads at
// http://HOST:PORT/files/ (PORT 0 or none: an ephemeral one; HOST
// 127.0.0.1 unless given, as bench/yield.sh gives its namespace's address),
// storing each upload's bytes in DIR/ID (@tus/file-store), with uploads
// expiring after an hour (the expiration extension: Upload-Expires). It
// listens on an ephemeral port and prints `PORT\n` once it is ready; it
// exits when its standard input closes (the test that started it ended).
import http from 'node:http';
import { Server } from '@tus/server';
import { FileStore } from '@tus/file-store';

const directory = process.argv[2];
const port = Number(process.argv[3] ?? 0);
const host = process.argv[4] ?? '127.0.0.1';
if (!directory) {
  console.error('usage: node server.mjs DIR');
  process.exit(2);
}
const tus = new Server({
  path: '/files',
  datastore: new FileStore({ directory, expirationPeriodInMilliseconds: 3600 * 1000 }),
});
const server = http.createServer((req, res) => tus.handle(req, res));
server.listen(port, host, () => {
  process.stdout.write(`${server.address().port}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
