// What every API route handler gets: the request, the response, the parsed URL and the
// authenticated caller.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../auth/tokens.js';

export interface ApiContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  who: Principal;
}
