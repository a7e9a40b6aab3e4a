/**
 * Values a process keeps per key, made on first use: the material of a Key Vault version, a
 * signer per key, a Graph client per target and key, the bindings and tenant facts of a sweep
 * run. What they have in common: a bound on how many are kept (the oldest made goes first), and
 * a promise that rejects is forgotten, so the next use makes it again instead of failing the same
 * way until the process restarts.
 */
export function cached<K, V>(map: Map<K, V>, key: K, make: () => V, max: number): V {
  if (map.has(key)) return map.get(key) as V;
  const value = make();
  map.set(key, value);
  while (map.size > max) map.delete(map.keys().next().value as K);
  if (value instanceof Promise)
    value.catch(() => {
      if (map.get(key) === value) map.delete(key);
    });
  return value;
}
