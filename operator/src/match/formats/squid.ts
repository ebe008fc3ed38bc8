/**
 * Squid's native access.log: `time elapsed remotehost code/status bytes method URL rfc931
 * peerstatus/peerhost type`, fields separated by one or more spaces, `time` in epoch seconds
 * with milliseconds. Matched: the client (`remotehost`), the URL (for CONNECT the `host:port`
 * authority) and its host, and the peer host the request went to.
 */
import { requestTarget } from './combined.ts';
import { TextLineParser } from './parser.ts';

/** Parser of Squid native access logs; see the module doc. */
export class SquidParser extends TextLineParser {
  protected line(text: string): void {
    const p = text.trim().split(/ +/);
    if (p.length < 7 || !/^\d+(\.\d+)?$/.test(p[0] ?? '') || !(p[3] ?? '').includes('/')) {
      this.ctx.stats.reject('not-squid-format', () => text);
      return;
    }
    const f = this.ctx.fields;
    f.begin();
    f.hostText(p[2] ?? '');
    requestTarget(f, p[5] ?? '', p[6] ?? '');
    const peer = (p[8] ?? '').split('/')[1];
    if (peer !== undefined && peer !== '-' && peer !== '') f.hostText(peer);
    this.commit(text, () => Number(p[0]) * 1000, 'squid');
  }
}
