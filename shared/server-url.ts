// The controller's URL as the CLI and the agent take it (--server, BERTH_SERVER, config
// files): without a scheme it means https, so a token is never sent in the clear unless the
// URL itself says `http://` (docs/security.md, "Plain HTTP").

/** `host:port` becomes `https://host:port`; trailing slashes go. */
export function normalizeServer(server: string): string {
  const s = /^[a-z][a-z0-9+.-]*:\/\//i.test(server) ? server : `https://${server}`;
  return s.replace(/\/+$/, '');
}

/** The stderr warning for a plain-http controller URL; undefined for any other URL. */
export function plainHttpWarning(server: string): string | undefined {
  if (!/^http:\/\//i.test(server)) return undefined;
  return `warning: ${server} is plain http: the token crosses the network unencrypted (use https:// or a URL without a scheme)`;
}
