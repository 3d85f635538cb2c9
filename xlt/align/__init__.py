"""Cross-lingual representation alignment (`xlt-align`): word-level mapping (Procrustes,
adversarial), lexicon induction, bitext retrieval and mining, sentence-encoder alignment
training and layer-wise diagnostics. The math lives in the top-level modules; tasks/ holds one
file per `task=` option."""
