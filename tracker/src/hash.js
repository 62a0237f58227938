// Variant assignment shared with the Python server and SDK (test vectors in
// tracker/test/vectors.json): any change here must change them all.
export function fnv1a32(str) {
  let h = 2166136261;
  for (const byte of new TextEncoder().encode(str)) {
    h ^= byte;
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

export function bucket(experiment, user) {
  return fnv1a32(experiment + ':' + user) % 100;
}

// Equal split when no weights are configured: floor(100 / n) each, the remainder to the first.
export function equalWeights(keys) {
  const w = Math.floor(100 / keys.length);
  return keys.map((key, i) => ({ key: String(key), weight: w + (i ? 0 : 100 - w * keys.length) }));
}

// First variant whose cumulative weight exceeds the bucket; the first variant if weights
// fall short of 100.
export function pickVariant(experiment, user, variants) {
  const b = bucket(experiment, user);
  let total = 0;
  for (const v of variants) {
    total += Number(v.weight) || 0;
    if (total > b) return v.key;
  }
  return variants.length ? variants[0].key : null;
}
