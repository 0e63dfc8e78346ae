// Model FLOPs per call (2 × multiply-adds of the matmuls; softmax, norms and
// activations are a few percent and left out), for the roofline line of
// BENCHMARKS.md: achieved GFLOP/s = flops_per_call / median time.

/**
 * A BERT encoder over sequences of the given token counts (each sequence its
 * own length: no padding). Per token per layer: the Q, K, V and output
 * projections 4·d², the feed-forward 2·d·ffn; per sequence per layer the
 * attention scores QKᵀ and the weighted sum AV, 2·T²·d. (Vaswani et al. 2017;
 * Kaplan et al. 2020, eq. 2.2, count the same terms.)
 */
export function bertFlops({ layers, hidden: d, ffn }, lengths) {
  let macs = 0;
  for (const t of lengths) macs += layers * (t * (4 * d * d + 2 * d * ffn) + 2 * t * t * d);
  return 2 * macs;
}

/**
 * One cached decoding step of a GPT at position `p` (p tokens in the cache,
 * the new one included): the projections and feed-forward for one token, its
 * attention over p keys and values, and the output head to the vocabulary.
 */
export function igptDecodeFlops({ layers, d, ffn, vocab }, p) {
  const macs = layers * (4 * d * d + 2 * d * ffn + 2 * p * d) + d * vocab;
  return 2 * macs;
}
