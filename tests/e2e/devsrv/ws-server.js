// A development server as a Node.js project runs one, for the e2e tier's
// dev-servers scenario (#17): plain HTTP on its port, and a WebSocket echo on
// any path (hot reload speaks WebSocket). The WebSocket handshake and frames
// are done by hand (RFC 6455) with node's own http and crypto modules: Debian's
// nodejs has no WebSocket package.
'use strict';
const http = require('http');
const crypto = require('crypto');

const port = Number(process.env.HL_DEV_SERVER_PORT || process.argv[2]);
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  const h = req.headers;
  res.end(`web ${req.method} ${req.url} xff=${h['x-forwarded-for'] || ''} ` +
          `proto=${h['x-forwarded-proto'] || ''} host=${h['x-forwarded-host'] || ''} ` +
          `mark=${process.env.E2E_MARK || ''}\n`);
});

server.on('upgrade', (req, sock) => {
  const key = req.headers['sec-websocket-key'];
  if (!key || (req.headers.upgrade || '').toLowerCase() !== 'websocket') {
    sock.destroy();
    return;
  }
  const accept = crypto.createHash('sha1').update(key + GUID).digest('base64');
  sock.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n' +
             `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  let buf = Buffer.alloc(0);
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      if (buf.length < 2) return;
      const op = buf[0] & 0x0f;
      const masked = (buf[1] & 0x80) !== 0;
      let len = buf[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        sock.destroy();
        return;
      }
      const mlen = masked ? 4 : 0;
      if (buf.length < off + mlen + len) return;
      const mask = buf.subarray(off, off + mlen);
      const payload = Buffer.from(buf.subarray(off + mlen, off + mlen + len));
      if (masked) for (let i = 0; i < len; i++) payload[i] ^= mask[i % 4];
      buf = buf.subarray(off + mlen + len);
      if (op === 8) {
        sock.end(Buffer.from([0x88, 0]));
        return;
      }
      if (op === 1) {
        const out = Buffer.from('echo:' + payload.toString());
        sock.write(Buffer.concat([Buffer.from([0x81, out.length]), out]));
      }
    }
  });
  sock.on('error', () => {});
});

server.listen(port, '127.0.0.1');
