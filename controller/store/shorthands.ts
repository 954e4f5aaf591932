// The one-write shorthands of the Store interface, the same for every store: each is
// transaction((tx) => tx.<same>(…)), so a store implements transaction() and inherits these.
import type { AnyObject, Kind, WatchEvent } from '../../shared/types.js';
import type { NewObject, StoredChange, StoreTx, TokenExtra } from './types.js';

export abstract class StoreShorthands {
  abstract transaction<T>(fn: (tx: StoreTx) => T): Promise<T>;

  /** A store without group commits runs each on its own. */
  groupedTransaction<T>(fn: (tx: StoreTx) => T): Promise<T> {
    return this.transaction(fn);
  }

  create<T extends AnyObject>(input: NewObject<T>): Promise<T> {
    return this.transaction((tx) => tx.create(input));
  }

  update<T extends AnyObject>(o: T, expectRv?: string): Promise<T> {
    return this.transaction((tx) => tx.update(o, expectRv));
  }

  mutate<T extends AnyObject>(kind: T['kind'], namespace: string | undefined, name: string, fn: (o: T) => void): Promise<T | undefined> {
    return this.transaction((tx) => tx.mutate(kind, namespace, name, fn));
  }

  delete(kind: Kind, namespace: string | undefined, name: string): Promise<AnyObject | undefined> {
    return this.transaction((tx) => tx.delete(kind, namespace, name));
  }

  setMeta(key: string, value: string): Promise<void> {
    return this.transaction((tx) => tx.setMeta(key, value));
  }

  deleteMeta(key: string): Promise<void> {
    return this.transaction((tx) => tx.deleteMeta(key));
  }

  addToken(hash: string, role: string, subject: string, extra?: TokenExtra): Promise<void> {
    return this.transaction((tx) => tx.addToken(hash, role, subject, extra));
  }

  deleteTokenById(id: string): Promise<number> {
    return this.transaction((tx) => tx.deleteTokenById(id));
  }

  deleteTokens(role: string, subject: string): Promise<void> {
    return this.transaction((tx) => tx.deleteTokens(role, subject));
  }

  bind(namespace: string, set: string, ordinal: number, node: string): Promise<void> {
    return this.transaction((tx) => tx.bind(namespace, set, ordinal, node));
  }

  toWatchEvent(c: StoredChange): WatchEvent {
    return { type: c.type, object: c.object };
  }
}
