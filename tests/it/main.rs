//! Integration tests: one binary, one module per component.

mod chunk_props;
mod chunk_vectors;
mod codec;
mod compactor;
mod conformance_data;
mod engine;
mod engine_crash;
mod fuzz_corpus;
mod index;
mod inspect;
mod labels;
mod logql_conformance;
mod logql_log;
mod logql_metric_conformance;
mod logql_parse;
mod logql_pipeline;
mod logql_template;
mod logqltest;
mod object;
mod store;
mod stream;
mod support;
mod wal;
mod wal_batches;
