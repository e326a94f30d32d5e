//! Template errors.

/// What went wrong.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateErrorKind {
    /// The template text is invalid (Loki rejects the query).
    Parse,
    /// Execution failed (Loki sets `__error__=TemplateFormatErr`).
    Exec,
    /// Execution hit one of lokistore's limits (output size, steps,
    /// nesting); reported like an execution error.
    Limit,
}

/// A parse or execution error, with Go's message text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    kind: TemplateErrorKind,
    message: String,
}

impl TemplateError {
    pub(crate) fn new(kind: TemplateErrorKind, message: String) -> Self {
        TemplateError { kind, message }
    }

    /// The kind of error.
    pub fn kind(&self) -> TemplateErrorKind {
        self.kind
    }

    /// The message, e.g. `template: line:1: unclosed action`.
    pub fn message(&self) -> &str {
        &self.message
    }
}
