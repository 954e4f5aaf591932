// node-forge ships no types; berth uses only its certificate builder (see shared/certs.ts).
declare module 'node-forge';
