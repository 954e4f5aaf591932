// Path segments of a request as the routes use them: percent-decoded, or refused as a whole.

/** The segments decoded (decodeURIComponent); undefined when one is malformed ("%zz"). */
export function decodeSegments<T extends readonly string[]>(raw: T): { [K in keyof T]: string } | undefined {
  try {
    return raw.map((s) => decodeURIComponent(s)) as { [K in keyof T]: string };
  } catch {
    return undefined;
  }
}

/** What a route answers for a path decodeSegments refuses. */
export const MALFORMED_PATH = 'malformed path';
