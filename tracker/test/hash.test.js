import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fnv1a32, bucket, equalWeights, pickVariant } from '../src/hash.js';

const vectors = JSON.parse(readFileSync(new URL('./vectors.json', import.meta.url), 'utf8'));

test('fnv1a32 over UTF-8 bytes', () => {
  for (const v of vectors.fnv1a32) assert.equal(fnv1a32(v.input), v.hash, v.input);
});

test('equal weights: floor(100/n), remainder to the first', () => {
  for (const v of vectors.equal_weights) {
    assert.deepEqual(equalWeights(v.variants).map((w) => w.weight), v.weights);
  }
});

test('assignment vectors', () => {
  assert.ok(vectors.assignments.length >= 6);
  for (const v of vectors.assignments) {
    const list = typeof v.variants[0] === 'string' ? equalWeights(v.variants) : v.variants;
    const label = `${v.experiment}:${v.user_id}`;
    assert.equal(fnv1a32(`${v.experiment}:${v.user_id}`), v.hash, label);
    assert.equal(bucket(v.experiment, v.user_id), v.bucket, label);
    assert.equal(pickVariant(v.experiment, v.user_id, list), v.variant, label);
  }
});

test('weights short of 100 fall back to the first variant', () => {
  assert.equal(pickVariant('hero', 'user_93', [{ key: 'a', weight: 10 }, { key: 'b', weight: 10 }]), 'a');
  assert.equal(pickVariant('hero', 'user_93', []), null);
});
