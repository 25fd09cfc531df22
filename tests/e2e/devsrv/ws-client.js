// A WebSocket round trip, by hand (RFC 6455), for the dev-servers scenario:
//   node ws-client.js HOST PORT PATH MESSAGE
// prints the text frame that comes back; exit 0, or 1 with why.
'use strict';
const net = require('net');
const crypto = require('crypto');

const [host, port, path, message] = process.argv.slice(2);
const key = crypto.randomBytes(16).toString('base64');
const want = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
  .digest('base64');
const fail = (why) => { console.error('ws-client: ' + why); process.exit(1); };
setTimeout(() => fail('no answer within 10 s'), 10000).unref();

const sock = net.connect(Number(port), host, () => {
  sock.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\n` +
             `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
});
let buf = Buffer.alloc(0);
let upgraded = false;
sock.on('data', (d) => {
  buf = Buffer.concat([buf, d]);
  if (!upgraded) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = buf.subarray(0, end).toString();
    buf = buf.subarray(end + 4);
    if (!/^HTTP\/1\.1 101/.test(head)) fail('no upgrade: ' + head.split('\r\n')[0]);
    if (!head.includes('Sec-WebSocket-Accept: ' + want)) fail('bad Sec-WebSocket-Accept');
    upgraded = true;
    const payload = Buffer.from(message);
    const mask = crypto.randomBytes(4);
    const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
    sock.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]));
  }
  if (buf.length >= 2 && buf.length >= 2 + (buf[1] & 0x7f)) {
    if ((buf[0] & 0x0f) !== 1) fail('not a text frame');
    console.log(buf.subarray(2, 2 + (buf[1] & 0x7f)).toString());
    sock.end(Buffer.from([0x88, 0x80, 0, 0, 0, 0]));
    process.exit(0);
  }
});
sock.on('error', (e) => fail(e.message));
