//! Log entries: owned ([`Entry`]) and borrowed from a chunk ([`EntryRef`]).
/// Structured metadata pairs.
pub type Metadata = Vec<crate::Label>;
/// An owned entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry;
/// A borrowed entry.
#[derive(Debug, Clone, Copy)]
pub struct EntryRef<'a>(std::marker::PhantomData<&'a ()>);
