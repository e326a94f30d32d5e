//! Fuzz harness bodies shared by `fuzz/` targets and the corpus replay tests.
